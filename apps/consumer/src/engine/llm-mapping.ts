// The consumer's jobs and results as @sluice/engine requests and outputs (the field names are the engine's wire format),
// and which engine errors dead-letter a job and which answer it with an error Completion.
import {
  EngineError as LibEngineError,
  InvalidSamplingParamsError,
  RequestAbortedError,
  RequestRejectedError,
  TokenizerError,
  UnsupportedSamplingParamError,
  resultToWire,
  samplingParamsFromWire,
  type AsyncEngineStats,
  type AsyncRequest,
  type RequestOutput,
  type WireCompletionOutput,
  type WireSamplingParams,
  type WireUsage,
} from '@sluice/engine';
import { EngineError, InvalidJobError } from '../errors';
import type { Completion, CompletionOutput, SamplingParams } from '../jobs/schema';
import type { EngineJob, EngineLoad, EngineResult } from './inference-engine';

// The schema's records are the engine's wire shapes, field for field: a schema change that parts them fails to compile here.
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Holds<T extends true> = T;
type _SchemaIsWire = Holds<Same<SamplingParams, WireSamplingParams>> | Holds<Same<CompletionOutput, WireCompletionOutput>> | Holds<Same<Completion['usage'], WireUsage>>;

export function engineRequest(job: EngineJob): AsyncRequest {
  const input = job.messages ? { messages: job.messages.map((m) => ({ role: m.role, content: m.content })) } : { prompt: job.prompt ?? '' };
  return { id: job.id, input, params: samplingParamsFromWire(job.sampling), priority: job.priority };
}

export function engineResult(out: RequestOutput): EngineResult {
  const t = out.timings;
  return {
    ...resultToWire(out),
    firstTokenMs: t.firstTokenMs === undefined ? undefined : t.firstTokenMs - t.arrivalMs,
    totalMs: (t.finishedMs ?? t.arrivalMs) - t.arrivalMs,
  };
}

/** The scheduler's queue and KV cache for backpressure and the gauges. */
export function engineLoad(s: AsyncEngineStats): EngineLoad {
  return { running: s.running, waiting: s.waiting + s.swapped, queued: s.queued, freeKvBlocks: s.freeBlocks, totalKvBlocks: s.totalBlocks, kvUsage: s.kvCacheUsage };
}

/**
 * An engine error as the worker's policy (jobs/classify.ts) sees it: input no engine could run is dead-lettered
 * (INVALID_SAMPLING, PROMPT_TOO_LARGE, SCHEMA_VIOLATION, as classify does for what it can check itself); a
 * well-formed job this engine cannot serve (a vLLM parameter value it lacks included) is REJECTED (an error
 * Completion); an abort stays an abort.
 */
export function engineError(jobId: string, err: unknown): Error {
  const cause = { cause: err };
  if (err instanceof EngineError) return err;
  if (err instanceof RequestAbortedError) return new EngineError('ABORTED', `job ${jobId} was aborted`, cause);
  if (err instanceof UnsupportedSamplingParamError) return new EngineError('REJECTED', err.message, cause);
  if (err instanceof InvalidSamplingParamsError) return new InvalidJobError('INVALID_SAMPLING', err.message, cause);
  if (err instanceof RequestRejectedError) {
    switch (err.reason) {
      case 'EXCEEDS_MAX_MODEL_LEN':
        return new InvalidJobError('PROMPT_TOO_LARGE', err.message, cause);
      case 'EMPTY_PROMPT':
        return new InvalidJobError('SCHEMA_VIOLATION', err.message, cause);
      case 'CANNOT_FIT_IN_CACHE':
        return new EngineError('REJECTED', `${err.message} (this worker's KV cache or --max-num-seqs is too small for it)`, cause);
    }
  }
  if (err instanceof TokenizerError) {
    // No chat template is this model's limit; a template that raises (roles out of order...) is bad input.
    if (err.code === 'CHAT_TEMPLATE_MISSING') return new EngineError('REJECTED', err.message, cause);
    if (err.code === 'CHAT_TEMPLATE_FAILED' || err.code === 'TOKEN_ID_INVALID') return new InvalidJobError('SCHEMA_VIOLATION', err.message, cause);
  }
  if (err instanceof LibEngineError && (err.code === 'INVALID_REQUEST' || err.code === 'INVALID_SAMPLING_PARAMS')) return new InvalidJobError('SCHEMA_VIOLATION', err.message, cause);
  if (err instanceof LibEngineError && err.code === 'DUPLICATE_REQUEST') return new EngineError('REJECTED', `job ${jobId} is already running on this worker`, cause);
  return new EngineError('ENGINE_FAILED', `engine failed on job ${jobId}: ${(err as Error).message}`, cause);
}
