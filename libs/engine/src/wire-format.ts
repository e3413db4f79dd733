// vLLM's HTTP names: sampling parameters taken and outputs given in snake_case, as callers that speak vLLM's API hold them.
import { SAMPLING_API_NAMES, type SamplingParams as TableSamplingParams } from '@sluice/schema/sampling-parameters';
import { InvalidSamplingParamsError } from './errors';
import type { FinishReason, RequestOutput } from './outputs';
import { SamplingParams, type SamplingParamsInit } from './sampling-params';

export { SamplingParams };

/**
 * Sampling parameters under vLLM's names; null or absent means the engine's default. The shape derives from the one
 * table of sampling parameters: beam_width is the number of beams (this engine's bestOf under beam search), and
 * early_stopping's vLLM value "never" (stop only when no beam can improve) is not implemented here.
 */
export type WireSamplingParams = TableSamplingParams;

export interface WireTokenLogprob {
  token: number;
  logprob: number;
  top: Array<{ token: number; logprob: number }>;
}

export interface WireCompletionOutput {
  index: number;
  text: string;
  token_ids?: number[] | null;
  finish_reason?: FinishReason | null;
  /** The stop string, or the stop token id as a string. */
  stop_reason?: string | null;
  cumulative_logprob?: number | null;
  logprobs?: WireTokenLogprob[] | null;
}

export interface WireUsage {
  prompt_tokens: number;
  completion_tokens: number;
  /** Prompt tokens whose KV came from the prefix cache (null: not known, a record written before completion v2). */
  cached_tokens?: number | null;
}

/** A well-formed vLLM parameter value this engine does not implement (rather than one no engine could run). */
export class UnsupportedSamplingParamError extends InvalidSamplingParamsError {
  override name = 'UnsupportedSamplingParamError';
}

// Every wire parameter the table gives an engine name is that engine parameter (beam_width is handled alone).
const ENGINE_NAME = new Map<keyof WireSamplingParams, keyof SamplingParamsInit>(SAMPLING_API_NAMES);
const WIRE_NAME = new Map<string, string>(SAMPLING_API_NAMES.map(([wire, engine]) => [engine, wire]));

/**
 * The parameters under the engine's names, checked by the engine's rules. Throws InvalidSamplingParamsError whose
 * `param` is the wire name (UnsupportedSamplingParamError for vLLM values this engine lacks, early_stopping "never").
 */
export function samplingParamsFromWire(wire: WireSamplingParams | null | undefined): SamplingParams {
  const s = wire ?? {};
  const params: Record<string, unknown> = {};
  for (const [name, engine] of ENGINE_NAME) {
    const value = s[name];
    if (value !== null && value !== undefined) params[engine] = value;
  }
  const width = s.beam_width;
  if (width !== null && width !== undefined) {
    if (!s.use_beam_search) throw new InvalidSamplingParamsError('beam_width', 'applies only with use_beam_search true');
    if (params.bestOf !== undefined && params.bestOf !== width) {
      throw new InvalidSamplingParamsError('beam_width', `${width} disagrees with best_of ${String(params.bestOf)}: under beam search both are the number of beams`);
    }
    params.bestOf = width;
  }
  if (s.early_stopping === 'never') throw new UnsupportedSamplingParamError('early_stopping', '"never" is not supported by this engine (true or false are)');
  try {
    return new SamplingParams(params);
  } catch (err) {
    if (!(err instanceof InvalidSamplingParamsError)) throw err;
    const name = err.param === 'bestOf' && width !== null && width !== undefined ? 'beam_width' : (WIRE_NAME.get(err.param) ?? err.param);
    throw new InvalidSamplingParamsError(name, err.message.replace(`sampling parameter ${err.param}: `, ''));
  }
}

/** A request's outputs and token counts under vLLM's names. */
export function resultToWire(out: RequestOutput): { outputs: WireCompletionOutput[]; usage: WireUsage } {
  return {
    outputs: out.outputs.map((o) => ({
      index: o.index,
      text: o.text,
      token_ids: o.tokenIds,
      finish_reason: o.finishReason,
      stop_reason: o.stopReason === undefined ? null : String(o.stopReason),
      cumulative_logprob: o.cumulativeLogprob,
      logprobs: o.logprobs ? o.logprobs.map((l) => ({ token: l.token, logprob: l.logprob, top: l.top ?? [] })) : null,
    })),
    usage: { prompt_tokens: out.usage.promptTokens, completion_tokens: out.usage.completionTokens, cached_tokens: out.usage.cachedPromptTokens },
  };
}

/** A job's request fields under the wire (schema) names: what both the worker and `sluice generate` send the engine. */
export interface WireJob {
  prompt?: string | null;
  messages?: ReadonlyArray<{ role: string; content: string }> | null;
  sampling?: WireSamplingParams | null;
  priority?: number | null;
}

export interface JobRequest {
  input: { prompt: string } | { messages: Array<{ role: string; content: string }> };
  params: SamplingParams;
  priority?: number;
}

/**
 * The one mapping from a job to an engine request: chat messages (role and content only) or the prompt, the
 * sampling by samplingParamsFromWire (or `params` already built from it), the priority when the job has one.
 */
export function jobRequest(job: WireJob, params: SamplingParams = samplingParamsFromWire(job.sampling)): JobRequest {
  const input = job.messages ? { messages: job.messages.map(({ role, content }) => ({ role, content })) } : { prompt: job.prompt ?? '' };
  return { input, params, ...(job.priority === null || job.priority === undefined ? {} : { priority: job.priority }) };
}
