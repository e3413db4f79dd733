// The data one engine step passes along: the scheduler's plan in, the sampled tokens out.
import type { EngineError } from '../errors';
import type { TokenLogprob } from '../outputs';
import type { BlockPair } from './block-manager';
import type { Sequence, SequenceGroup } from './sequence';

/** One sequence's share of a step. */
export interface ScheduledSeq {
  seq: Sequence;
  /** Positions [seq.numComputedTokens, + numTokens) are computed this step. */
  numTokens: number;
  blockTable: readonly number[];
  /**
   * Sequences that sample from this chunk's last position: none while a prompt is still being chunked;
   * the sequence itself once the chunk reaches its newest token; at the end of the first prompt of a
   * request with bestOf > 1, also the siblings that update() forks from it.
   */
  sampleFor: Sequence[];
}

export interface SchedulerOutput {
  scheduled: ScheduledSeq[];
  numBatchedTokens: number;
  /** Copies the model runner makes before the forward pass, in this order: swap out, swap in, copy. */
  blocksToSwapOut: BlockPair[];
  blocksToSwapIn: BlockPair[];
  blocksToCopy: BlockPair[];
  preempted: SequenceGroup[];
}

/** A token sampled for a sequence this step (for a client-driven sequence: its candidates, in `top`). */
export interface SampledToken {
  seq: Sequence;
  result: TokenLogprob;
  /** The request must end now, with this error (its grammar's mask failed or ran over its limit); the token is dropped. */
  error?: EngineError;
}

/** The score of prompt token `position` given the tokens before it. */
export interface PromptTokenScore {
  group: SequenceGroup;
  position: number;
  result: TokenLogprob;
}

export interface StepResult {
  sampled: SampledToken[];
  promptScores: PromptTokenScore[];
}

export const EMPTY_STEP: Readonly<StepResult> = Object.freeze({ sampled: [], promptScores: [] });
