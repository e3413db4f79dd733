// The consumer's jobs and results as @sluice/engine requests and outputs (the field names are the engine's wire format),
// and which engine errors dead-letter a job and which answer it with an error Completion.
import { isDeadLetterCode } from '@sluice/schema';
import {
  EngineError as LibEngineError,
  RequestAbortedError,
  RequestRejectedError,
  jobOutcomeOf,
  jobRequest,
  jobTimings,
  resultToWire,
  type AsyncEngineStats,
  type AsyncRequest,
  type RequestOutput,
} from '@sluice/engine';
import { EngineError, InvalidJobError } from '../errors';
import type { EngineJob, EngineLoad, EngineResult } from './inference-engine';

/** The job under its in-flight id, by the one job-to-request mapping generate uses too (@sluice/engine's jobRequest). */
export function engineRequest(job: EngineJob): AsyncRequest {
  return { id: job.id, ...jobRequest(job) };
}

export function engineResult(out: RequestOutput): EngineResult {
  return { ...resultToWire(out), timings: jobTimings(out.timings) };
}

/** The scheduler's queue and KV cache for backpressure and the gauges. */
export function engineLoad(s: AsyncEngineStats): EngineLoad {
  return { running: s.running, waiting: s.waiting + s.swapped, queued: s.queued, freeKvBlocks: s.freeBlocks, totalKvBlocks: s.totalBlocks, kvUsage: s.kvCacheUsage };
}

/**
 * An engine error as the worker's policy (jobs/classify.ts) sees it, by the one outcome table (@sluice/schema's
 * OUTCOMES, through @sluice/engine's jobOutcomeOf, as generate uses it): a dead-letter code becomes InvalidJobError,
 * an error-line code (ENGINE_REJECTED) EngineError REJECTED; an abort stays an abort, anything else ENGINE_FAILED.
 */
export function engineError(jobId: string, err: unknown): Error {
  const cause = { cause: err };
  if (err instanceof EngineError) return err;
  if (err instanceof RequestAbortedError) return new EngineError('ABORTED', `job ${jobId} was aborted`, cause);
  const outcome = jobOutcomeOf(err);
  if (outcome && isDeadLetterCode(outcome.code)) return new InvalidJobError(outcome.code, outcome.message, cause);
  if (outcome) return new EngineError('REJECTED', rejectionReason(jobId, err, outcome.message), cause);
  return new EngineError('ENGINE_FAILED', `engine failed on job ${jobId}: ${(err as Error).message}`, cause);
}

// What a worker's operator can change, said beside the engine's reason.
function rejectionReason(jobId: string, err: unknown, message: string): string {
  if (err instanceof RequestRejectedError && err.reason === 'CANNOT_FIT_IN_CACHE') return `${message} (this worker's KV cache or --max-num-seqs is too small for it)`;
  if (err instanceof LibEngineError && err.code === 'DUPLICATE_REQUEST') return `job ${jobId} is already running on this worker`;
  return message;
}
