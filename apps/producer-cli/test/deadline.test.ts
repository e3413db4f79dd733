// The built `sluice produce --deadline` against a real broker: a relative window lands on every job; a past time is refused.
import { PromptJobSchemas } from '@sluice/schema';
import { freshTopics, jsonl, readRecords, sluice, tempDir, writeText } from './harness';

const dir = tempDir('deadline');

describe('sluice produce --deadline', () => {
  it('turns a window like 24h into a deadline that long after the produce', async () => {
    const { topics, env } = freshTopics('deadline');
    const file = writeText(dir, 'rows.jsonl', jsonl([{ prompt: 'a' }, { prompt: 'b' }]));
    const before = Date.now();
    const run = await sluice(['produce', file, '--create-topics', '--partitions', '1', '--deadline', '24h'], env);
    const after = Date.now();
    expect(run.code).toBe(0);
    const deadlines = (await readRecords(topics.jobs, PromptJobSchemas)).map((r) => r.value.deadline);
    expect(deadlines).toHaveLength(2);
    for (const d of deadlines) {
      expect(d).toBeGreaterThanOrEqual(before + 24 * 3_600_000);
      expect(d).toBeLessThanOrEqual(after + 24 * 3_600_000);
    }
  });

  it('refuses a deadline already past, producing nothing', async () => {
    const { env } = freshTopics('deadline-past');
    const file = writeText(dir, 'late.jsonl', jsonl([{ prompt: 'a' }]));
    const run = await sluice(['produce', file, '--create-topics', '--deadline', '2020-01-01T00:00:00Z'], env);
    expect(run.code).toBe(2);
    expect(run.stderr.split('\n')[0]).toBe(`error: option '--deadline <time>' argument '2020-01-01T00:00:00Z' is invalid. "2020-01-01T00:00:00Z" is in the past (2020-01-01T00:00:00.000Z); every job would expire unrun`);
    expect(run.stdout).toBe('');
  });
});
