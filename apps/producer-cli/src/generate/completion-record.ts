// An engine RequestOutput as the Completion record workers write, so generate's lines match collect's.
import { resultToWire, type RequestOutput } from '@sluice/engine';
import type { Completion, PromptJob } from '@sluice/schema';

export interface CompletionContext {
  model: string;
  workerId: string;
}

// Engine timings are instants on one clock: the record keeps durations from arrival.
const since = (from: number, to: number | undefined) => (to === undefined ? undefined : Math.max(0, Math.round(to - from)));

export function successCompletion(job: PromptJob, out: RequestOutput, ctx: CompletionContext): Completion {
  const { arrivalMs, firstScheduledMs, firstTokenMs, finishedMs } = out.timings;
  return {
    job_id: job.job_id,
    batch_id: job.batch_id,
    ...resultToWire(out),
    timings: { queued_ms: since(arrivalMs, firstScheduledMs) ?? 0, first_token_ms: since(arrivalMs, firstTokenMs) ?? null, total_ms: since(arrivalMs, finishedMs) ?? 0 },
    model: ctx.model,
    worker_id: ctx.workerId,
    metadata: job.metadata,
    error: null,
    completed_at: Date.now(),
  };
}

/** A request the engine refused (too long for the model, cannot fit the cache): an error line, as a worker writes it. */
export function errorCompletion(job: PromptJob, code: string, message: string, ctx: CompletionContext): Completion {
  return {
    job_id: job.job_id,
    batch_id: job.batch_id,
    outputs: [],
    usage: { prompt_tokens: 0, completion_tokens: 0 },
    timings: { queued_ms: 0, first_token_ms: null, total_ms: 0 },
    model: ctx.model,
    worker_id: ctx.workerId,
    metadata: job.metadata,
    error: { code, message },
    completed_at: Date.now(),
  };
}
