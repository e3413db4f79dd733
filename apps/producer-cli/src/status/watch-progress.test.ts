import type { BatchStatus } from './batch-scan';
import { WatchProgress } from './watch-progress';

function at(done: number, failed: number, tokens: number, jobs: number | null = 100): BatchStatus {
  const pending = jobs === null ? null : jobs - done - failed;
  return { batch_id: 'b', jobs, done, failed, dead_lettered: 0, skipped: 0, pending, unreadable: 0, usage: { prompt_tokens: 0, completion_tokens: tokens, total_tokens: tokens }, manifest: null } as BatchStatus;
}

describe('status --watch progress', () => {
  it('shows the share done, jobs/s and tokens/s since the watch began, failures and the ETA at that rate', () => {
    let now = 0;
    const p = new WatchProgress(() => now);
    const first = at(10, 0, 500);
    expect(p.line(first, p.rates(first))).toBe('[##----------------------]  10.0% 10/100 | 0.0 jobs/s | 0 tokens/s | 0 failed | ETA ?');
    now = 10_000;
    const later = at(45, 5, 2_500);
    expect(p.rates(later)).toEqual({ jobs_per_second: 4, tokens_per_second: 200, eta_seconds: 12.5 });
    expect(p.line(later, p.rates(later))).toBe('[############------------]  50.0% 50/100 | 4.0 jobs/s | 200 tokens/s | 5 failed | ETA 13s');
    now = 20_000;
    const done = at(95, 5, 4_500);
    expect(p.line(done, p.rates(done))).toBe('[########################] 100.0% 100/100 | 4.5 jobs/s | 200 tokens/s | 5 failed | ETA 0s');
  });

  it('has no line without a job count', () => {
    const p = new WatchProgress(() => 0);
    const s = at(3, 0, 10, null);
    expect(p.line(s, p.rates(s))).toBeUndefined();
  });
});
