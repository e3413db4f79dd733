// An engine RequestOutput as the Completion record workers write, so generate's lines match collect's.
import { jobTimings, resultToWire, type RequestOutput } from '@sluice/engine';
import type { Completion, PromptJob } from '@sluice/schema';

export interface CompletionContext {
  model: string;
  workerId: string;
}

export function successCompletion(job: PromptJob, out: RequestOutput, ctx: CompletionContext): Completion {
  return {
    job_id: job.job_id,
    batch_id: job.batch_id,
    ...resultToWire(out),
    // The worker's rule: from when the job was taken; generate hands each job to the engine as it takes it.
    timings: jobTimings(out.timings),
    model: ctx.model,
    worker_id: ctx.workerId,
    metadata: job.metadata,
    error: null,
    completed_at: Date.now(),
  };
}

/** A job with an outcome code (@sluice/schema's OUTCOMES): an error line, as collect writes a worker's error or dead letter. */
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
