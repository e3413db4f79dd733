// vLLM's HTTP names: sampling parameters taken and outputs given in snake_case, as callers that speak vLLM's API hold them.
import { InvalidSamplingParamsError } from './errors';
import type { FinishReason, RequestOutput } from './outputs';
import { SamplingParams, type SamplingParamsInit } from './sampling-params';

/** Sampling parameters under vLLM's names; null or absent means the engine's default. */
export interface WireSamplingParams {
  n?: number | null;
  best_of?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  min_p?: number | null;
  seed?: number | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  repetition_penalty?: number | null;
  stop?: string[] | null;
  stop_token_ids?: number[] | null;
  include_stop_str_in_output?: boolean | null;
  ignore_eos?: boolean | null;
  max_tokens?: number | null;
  min_tokens?: number | null;
  logprobs?: number | null;
  prompt_logprobs?: number | null;
  skip_special_tokens?: boolean | null;
  use_beam_search?: boolean | null;
  /** The number of beams: this engine's bestOf under beam search. */
  beam_width?: number | null;
  length_penalty?: number | null;
  /** vLLM's "never" (stop only when no beam can improve) is not implemented here. */
  early_stopping?: boolean | 'never' | null;
}

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
}

/** A well-formed vLLM parameter value this engine does not implement (rather than one no engine could run). */
export class UnsupportedSamplingParamError extends InvalidSamplingParamsError {
  override name = 'UnsupportedSamplingParamError';
}

// Every wire parameter but beam_width is one engine parameter; a wire or engine parameter left out fails to compile.
const ENGINE_NAME = {
  n: 'n',
  best_of: 'bestOf',
  temperature: 'temperature',
  top_p: 'topP',
  top_k: 'topK',
  min_p: 'minP',
  seed: 'seed',
  presence_penalty: 'presencePenalty',
  frequency_penalty: 'frequencyPenalty',
  repetition_penalty: 'repetitionPenalty',
  stop: 'stop',
  stop_token_ids: 'stopTokenIds',
  include_stop_str_in_output: 'includeStopStrInOutput',
  ignore_eos: 'ignoreEos',
  max_tokens: 'maxTokens',
  min_tokens: 'minTokens',
  logprobs: 'logprobs',
  prompt_logprobs: 'promptLogprobs',
  skip_special_tokens: 'skipSpecialTokens',
  use_beam_search: 'useBeamSearch',
  length_penalty: 'lengthPenalty',
  early_stopping: 'earlyStopping',
} as const satisfies Record<Exclude<keyof WireSamplingParams, 'beam_width'>, keyof SamplingParamsInit>;
type Covers<Names, All extends Names> = All;
type _EveryEngineParam = Covers<(typeof ENGINE_NAME)[keyof typeof ENGINE_NAME], keyof SamplingParamsInit>;

const WIRE_NAME = new Map<string, string>(Object.entries(ENGINE_NAME).map(([wire, engine]) => [engine, wire]));

/**
 * The parameters under the engine's names, checked by the engine's rules. Throws InvalidSamplingParamsError whose
 * `param` is the wire name (UnsupportedSamplingParamError for vLLM values this engine lacks, early_stopping "never").
 */
export function samplingParamsFromWire(wire: WireSamplingParams | null | undefined): SamplingParamsInit {
  const s = wire ?? {};
  const params: Record<string, unknown> = {};
  for (const [name, engine] of Object.entries(ENGINE_NAME)) {
    const value = s[name as keyof typeof ENGINE_NAME];
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
    new SamplingParams(params);
  } catch (err) {
    if (!(err instanceof InvalidSamplingParamsError)) throw err;
    const name = err.param === 'bestOf' && width !== null && width !== undefined ? 'beam_width' : (WIRE_NAME.get(err.param) ?? err.param);
    throw new InvalidSamplingParamsError(name, err.message.replace(`sampling parameter ${err.param}: `, ''));
  }
  return params as SamplingParamsInit;
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
    usage: { prompt_tokens: out.usage.promptTokens, completion_tokens: out.usage.completionTokens },
  };
}
