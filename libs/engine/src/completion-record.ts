// The Completion record, assembled in one place for the worker, `sluice generate` and collect's dead-letter lines,
// so that no field can mean one thing in one app and another elsewhere.
import type { Completion, CompletionError, CompletionOutput, SamplingParams, Usage } from '@sluice/schema';
import type { JobTimings } from './job-timings';
import type { WireCompletionOutput, WireSamplingParams, WireUsage } from './wire-format';

// The schema's records are the engine's wire shapes, field for field: a schema change that parts them fails to compile here.
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Holds<T extends true> = T;
type _SchemaIsWire =
  | Holds<Same<SamplingParams, WireSamplingParams>>
  | Holds<Same<CompletionOutput, WireCompletionOutput>>
  | Holds<Same<Usage, WireUsage>>;

/** The job fields a Completion repeats. */
export interface CompletionJob {
  job_id: string;
  batch_id: string;
  metadata: Record<string, string>;
}

/** Who served the job: the model name the record carries, and the worker (or generate process) id. */
export interface CompletionContext {
  model: string;
  workerId: string;
}

/** A job that was never served: nothing generated, no time spent in the engine. */
export const NO_USAGE: Readonly<Required<WireUsage>> = Object.freeze({ prompt_tokens: 0, completion_tokens: 0, cached_tokens: 0 });
export const NO_TIMINGS: Readonly<JobTimings> = Object.freeze({ queued_ms: 0, first_token_ms: null, total_ms: 0 });

/** A served job: its outputs and usage (resultToWire), its timings by jobTimings' rule. */
export function completionRecord(
  job: CompletionJob,
  result: { outputs: WireCompletionOutput[]; usage: WireUsage },
  timings: JobTimings,
  ctx: CompletionContext,
  completedAt = Date.now(),
): Completion {
  return record(job, { outputs: result.outputs, usage: result.usage, timings, error: null }, ctx, completedAt);
}

/**
 * A job answered with an outcome code (@sluice/schema's OUTCOMES) instead of outputs. `waitedMs`: from when the job
 * was taken until it was refused, which is its queued_ms (it was never scheduled).
 */
export function errorCompletionRecord(job: CompletionJob, error: CompletionError, ctx: CompletionContext, waitedMs = 0, completedAt = Date.now()): Completion {
  const timings = { ...NO_TIMINGS, queued_ms: Math.max(0, Math.round(waitedMs)) };
  return record(job, { outputs: [], usage: { ...NO_USAGE }, timings, error: { code: error.code, message: error.message } }, ctx, completedAt);
}

function record(job: CompletionJob, served: Pick<Completion, 'outputs' | 'usage' | 'timings' | 'error'>, ctx: CompletionContext, completedAt: number): Completion {
  return {
    job_id: job.job_id,
    batch_id: job.batch_id,
    ...served,
    model: ctx.model,
    worker_id: ctx.workerId,
    metadata: job.metadata,
    completed_at: completedAt,
  };
}
