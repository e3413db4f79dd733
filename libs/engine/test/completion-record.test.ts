// The one Completion record rule the worker, generate and collect share.
import { CompletionSchemas, RecordCodec } from '@sluice/schema';
import { completionRecord, errorCompletionRecord } from '../src/completion-record';
import { afterWait, jobTimings } from '../src/job-timings';
import { resultToWire } from '../src/wire-format';
import type { RequestOutput } from '../src/outputs';

const job = { job_id: 'j1', batch_id: 'b1', metadata: { 'sluice.seq': '4' } };
const ctx = { model: 'tiny-llama', workerId: 'w1' };
const out: RequestOutput = {
  requestId: 'j1',
  promptTokenIds: [1, 2, 3],
  outputs: [{ index: 0, text: 'hi', tokenIds: [7, 8], cumulativeLogprob: null, finishReason: 'stop' }],
  finished: true,
  usage: { promptTokens: 3, completionTokens: 2, cachedPromptTokens: 16 },
  timings: { arrivalMs: 100, firstScheduledMs: 104, firstTokenMs: 110, finishedMs: 130 },
};

describe('completionRecord', () => {
  it('carries the outputs, usage (cached tokens included) and timings a codec writes and reads back', async () => {
    const c = completionRecord(job, resultToWire(out), afterWait(jobTimings(out.timings), 6), ctx, 1_700_000_000_000);
    expect(c).toMatchObject({
      job_id: 'j1', batch_id: 'b1', model: 'tiny-llama', worker_id: 'w1', metadata: job.metadata, error: null, completed_at: 1_700_000_000_000,
      usage: { prompt_tokens: 3, completion_tokens: 2, cached_tokens: 16 },
      // From when the job was taken: the worker's 6 ms before submit, then the engine's own times.
      timings: { queued_ms: 10, first_token_ms: 16, total_ms: 36 },
    });
    const codec = new RecordCodec(CompletionSchemas);
    expect(await codec.decode(await codec.encode(c))).toEqual(c);
  });

  it('answers a refused job with its code, no outputs or tokens, queued until the refusal', () => {
    const c = errorCompletionRecord(job, { code: 'MODEL_MISMATCH', message: 'no such model' }, ctx, 12.4, 5);
    expect(c).toEqual({
      job_id: 'j1', batch_id: 'b1', outputs: [], usage: { prompt_tokens: 0, completion_tokens: 0, cached_tokens: 0 },
      timings: { queued_ms: 12, first_token_ms: null, total_ms: 0 }, model: 'tiny-llama', worker_id: 'w1', metadata: job.metadata,
      error: { code: 'MODEL_MISMATCH', message: 'no such model' }, completed_at: 5,
    });
  });

  it('keeps a timing the engine never reached null after the wait is added', () => {
    expect(afterWait({ queued_ms: 0, first_token_ms: null, total_ms: 0 }, 3)).toEqual({ queued_ms: 3, first_token_ms: null, total_ms: 3 });
  });
});
