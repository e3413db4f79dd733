/** What a finished (or streamed) request reports, vLLM-style. */
import type { EngineError } from './errors';

export type FinishReason = 'stop' | 'length' | 'abort';

export interface TokenLogprob {
  token: number;
  logprob: number;
  /** The most likely tokens at this step, when logprobs were asked for. */
  top?: Array<{ token: number; logprob: number }>;
}

export interface CompletionOutput {
  index: number;
  text: string;
  /** Streaming only: the text that became final since the previous output of this request. */
  delta?: string;
  tokenIds: number[];
  /** Sum of the tokens' logprobs; null unless logprobs were asked for (or best_of > n ranked by it), as in vLLM. */
  cumulativeLogprob: number | null;
  /** One entry per generated token when SamplingParams.logprobs is set. */
  logprobs?: TokenLogprob[];
  finishReason: FinishReason | null;
  /** The stop string or stop token id that ended the sequence; absent for eos / length / abort. */
  stopReason?: string | number;
}

export interface RequestUsage {
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens whose KV came from the prefix cache. */
  cachedPromptTokens: number;
}

export interface RequestTimings {
  arrivalMs: number;
  firstScheduledMs?: number;
  firstTokenMs?: number;
  finishedMs?: number;
}

export interface RequestOutput {
  requestId: string;
  prompt?: string;
  /** The request's own prompt ids, shared by all its outputs (not copied per step): do not modify. */
  promptTokenIds: readonly number[];
  /** Entry j scores prompt token j; entry 0 is null (nothing precedes it). */
  promptLogprobs?: Array<TokenLogprob | null>;
  outputs: CompletionOutput[];
  finished: boolean;
  /** Set on the final output of a request that failed while running (its grammar's mask failed or ran over its limit). */
  error?: EngineError;
  usage: RequestUsage;
  timings: RequestTimings;
}
