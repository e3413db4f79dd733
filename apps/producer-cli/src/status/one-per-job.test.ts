import type { Completion } from '@sluice/schema';
import { keepOnePerJob } from './one-per-job';

const c = (jobId: string, text: string | null, batchId = 'b1'): Completion => ({
  job_id: jobId, batch_id: batchId, outputs: text === null ? [] : [{ index: 0, text, finish_reason: 'stop' }],
  usage: { prompt_tokens: 1, completion_tokens: 1 }, timings: { queued_ms: 0, first_token_ms: null, total_ms: 1 },
  model: 'm', worker_id: 'w', metadata: {}, error: text === null ? { code: 'ENGINE_FAILED', message: 'x' } : null, completed_at: 0,
});

function kept(...inCommitOrder: Completion[]): Record<string, string> {
  const byJob = new Map<string, Completion>();
  for (const completion of inCommitOrder) keepOnePerJob(byJob, 'b1', completion);
  return Object.fromEntries([...byJob].map(([id, k]) => [id, k.error ? `error ${k.error.code}` : k.outputs[0].text]));
}

describe('one completion per job', () => {
  it.each([
    ['the first success over a later one', [c('j', 'first'), c('j', 'second')], { j: 'first' }],
    ['a later success over an earlier error', [c('j', null), c('j', 'retried')], { j: 'retried' }],
    ['a success over a later error', [c('j', 'ok'), c('j', null)], { j: 'ok' }],
    ['the first error when there is no success', [{ ...c('j', null), error: { code: 'A', message: '' } }, { ...c('j', null), error: { code: 'B', message: '' } }], { j: 'error A' }],
    ['nothing of another batch', [c('j', 'other', 'b2'), c('k', 'mine')], { k: 'mine' }],
  ])('keeps %s', (_what, completions, expected) => {
    expect(kept(...completions)).toEqual(expected);
  });
});
