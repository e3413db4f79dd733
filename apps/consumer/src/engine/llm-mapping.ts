// The one translation between the consumer's job/result shapes (@sluice/schema, snake_case) and @sluice/engine's
// (camelCase), including which engine errors dead-letter a job and which answer it with an error Completion.
import {
  EngineError as LibEngineError,
  InvalidSamplingParamsError,
  RequestAbortedError,
  RequestRejectedError,
  TokenizerError,
  type AsyncEngineStats,
  type AsyncRequest,
  type RequestOutput,
  type SamplingParamsInit,
} from '@sluice/engine';
import { EngineError, InvalidJobError } from '../errors';
import type { CompletionOutput, SamplingParams } from '../jobs/schema';
import type { EngineJob, EngineLoad, EngineResult } from './inference-engine';

type Defined<T> = { [K in keyof T]-?: Exclude<T[K], null | undefined> };

// Schema name → engine name for every parameter that maps one to one; null means "the engine's default".
const SAME: ReadonlyArray<[keyof SamplingParams, keyof SamplingParamsInit]> = [
  ['n', 'n'],
  ['best_of', 'bestOf'],
  ['temperature', 'temperature'],
  ['top_p', 'topP'],
  ['top_k', 'topK'],
  ['min_p', 'minP'],
  ['seed', 'seed'],
  ['presence_penalty', 'presencePenalty'],
  ['frequency_penalty', 'frequencyPenalty'],
  ['repetition_penalty', 'repetitionPenalty'],
  ['stop', 'stop'],
  ['stop_token_ids', 'stopTokenIds'],
  ['include_stop_str_in_output', 'includeStopStrInOutput'],
  ['ignore_eos', 'ignoreEos'],
  ['max_tokens', 'maxTokens'],
  ['min_tokens', 'minTokens'],
  ['logprobs', 'logprobs'],
  ['prompt_logprobs', 'promptLogprobs'],
  ['skip_special_tokens', 'skipSpecialTokens'],
  ['use_beam_search', 'useBeamSearch'],
  ['length_penalty', 'lengthPenalty'],
];

/**
 * A job's sampling parameters as the engine takes them. The schema's beam_width is the engine's bestOf under beam
 * search; early_stopping "never" has no engine equivalent, so such a job is refused rather than run differently.
 */
export function samplingInit(s: SamplingParams): SamplingParamsInit {
  const out: Record<string, unknown> = {};
  for (const [from, to] of SAME) if (s[from] !== null && s[from] !== undefined) out[to] = s[from];
  const p = out as Defined<SamplingParamsInit>;
  if (s.beam_width != null) {
    if (!s.use_beam_search) throw new InvalidJobError('INVALID_SAMPLING', 'sampling.beam_width applies only with sampling.use_beam_search true');
    if (s.best_of != null && s.best_of !== s.beam_width) {
      throw new InvalidJobError('INVALID_SAMPLING', `sampling.beam_width (${s.beam_width}) and sampling.best_of (${s.best_of}) disagree; under beam search they are the same number`);
    }
    p.bestOf = s.beam_width;
  }
  if (s.early_stopping === 'never') throw new EngineError('REJECTED', 'sampling.early_stopping "never" is not supported by this engine (true or false are)');
  if (s.early_stopping != null) p.earlyStopping = s.early_stopping;
  return p;
}

export function engineRequest(job: EngineJob): AsyncRequest {
  const input = job.messages ? { messages: job.messages.map((m) => ({ role: m.role, content: m.content })) } : { prompt: job.prompt ?? '' };
  return { id: job.id, input, params: samplingInit(job.sampling), priority: job.priority };
}

export function engineResult(out: RequestOutput): EngineResult {
  const t = out.timings;
  const outputs: CompletionOutput[] = out.outputs.map((o) => ({
    index: o.index,
    text: o.text,
    token_ids: o.tokenIds,
    finish_reason: o.finishReason,
    stop_reason: o.stopReason === undefined ? null : String(o.stopReason),
    cumulative_logprob: o.cumulativeLogprob,
    logprobs: o.logprobs ? o.logprobs.map((l) => ({ token: l.token, logprob: l.logprob, top: l.top ?? [] })) : null,
  }));
  return {
    outputs,
    usage: { prompt_tokens: out.usage.promptTokens, completion_tokens: out.usage.completionTokens },
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
 * well-formed job this engine cannot serve is REJECTED (an error Completion); an abort stays an abort.
 */
export function engineError(jobId: string, err: unknown): Error {
  const cause = { cause: err };
  if (err instanceof EngineError) return err;
  if (err instanceof RequestAbortedError) return new EngineError('ABORTED', `job ${jobId} was aborted`, cause);
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
