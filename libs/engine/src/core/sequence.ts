import type { FinishReason, TokenLogprob } from '../outputs';
import type { SamplingParams } from '../sampling-params';
import type { RemoteGrammar, RemoteMatcher } from '../structured/remote-grammar';

export type SequenceStatus = 'waiting' | 'running' | 'swapped' | 'finished';

/** Why a sequence ended, as the core decides it (the front end may still cut it at a stop string). */
export interface FinishState {
  reason: FinishReason;
  /** The stop token id or stop string that ended it; absent for eos, length and abort. */
  stopReason?: string | number;
}

let nextSeqId = 0;

/**
 * One token stream and everything sampled into it: the prompt, then each generated token with its logprob.
 * The KV cache holds positions [0, numComputedTokens); later tokens are computed in the next steps.
 */
export class Sequence {
  readonly seqId = nextSeqId++;
  readonly tokenIds: number[];
  /** One per generated token: the sampled token's logprob (NaN when nobody asked) and any top alternatives. */
  readonly logprobs: TokenLogprob[];
  cumulativeLogprob: number;
  numComputedTokens = 0;
  status: SequenceStatus = 'waiting';
  finish: FinishState | undefined;
  /** Row of the persistent input batch while scheduled; -1 when it holds none. */
  row = -1;
  /** Tokens sampled on the device whose values the host has not read yet; their places in tokenIds hold -1. */
  numPending = 0;
  /** Where this sequence is in its request's grammar (structured output); undefined when unconstrained. */
  matcher: RemoteMatcher | undefined;

  constructor(
    readonly group: SequenceGroup,
    /** Position in group.seqs at creation: the sequence's index in the request's outputs. */
    readonly index: number,
    readonly seed: bigint,
    from?: Sequence,
  ) {
    this.tokenIds = from ? [...from.tokenIds] : [...group.promptTokenIds];
    this.logprobs = from ? [...from.logprobs] : [];
    this.cumulativeLogprob = from ? from.cumulativeLogprob : 0;
    // A fork continues from its parent's place in the grammar; a new sequence starts at the grammar's start.
    this.matcher = from ? from.matcher?.fork() : group.grammar?.newMatcher();
  }

  get promptLen(): number {
    return this.group.promptTokenIds.length;
  }

  get outputLen(): number {
    return this.tokenIds.length - this.promptLen;
  }

  /** Tokens not yet in the cache: 1 for a decode, more for a (re)prefill, 0 while a client picks the next one. */
  get numUncomputed(): number {
    return this.tokenIds.length - this.numComputedTokens;
  }

  get isFinished(): boolean {
    return this.status === 'finished';
  }

  /** The generated tokens the host knows (what penalties and the detokenizer read). */
  outputTokens(): number[] {
    return this.tokenIds.slice(this.promptLen, this.tokenIds.length - this.numPending);
  }

  /** Holds the place of a token a launched step is sampling, so the next step can be scheduled before it is read. */
  reserveToken(): void {
    this.tokenIds.push(-1);
    this.numPending++;
  }

  /** Appends a sampled token, into the oldest reserved place if there is one. */
  append(step: TokenLogprob): void {
    // The step's mask allowed only tokens the grammar accepts; the grammar thread checks it at the next fill.
    this.matcher?.accept(step.token);
    if (this.numPending > 0) this.tokenIds[this.tokenIds.length - this.numPending--] = step.token;
    else this.tokenIds.push(step.token);
    this.logprobs.push(step);
    this.cumulativeLogprob += step.logprob;
  }

  /** Frees the grammar matcher (the sequence has ended). */
  releaseMatcher(): void {
    this.matcher?.dispose();
    this.matcher = undefined;
  }

  /** Forgets reserved places (the sequence ended before their tokens were read). */
  dropPending(): void {
    this.tokenIds.length -= this.numPending;
    this.numPending = 0;
  }
}

// Distinct, reproducible seeds for the sequences of a seeded request; random ones otherwise.
function sequenceSeed(params: SamplingParams, i: number): bigint {
  return params.seed === undefined
    ? BigInt(Math.floor(Math.random() * Number.MAX_SAFE_INTEGER))
    : BigInt.asIntN(64, BigInt(params.seed) * 0x9e3779b97f4a7c15n + BigInt(i));
}

/**
 * A request in the core: bestOf sequences over one prompt. Only the first is prefilled; when its prompt is
 * in the cache the others are forked from it and share its blocks, so the prompt is computed and stored once.
 * A client-driven group (beam search) samples nothing itself: each step reports its top candidates and
 * waits for the client to append, fork or finish its sequences.
 */
export class SequenceGroup {
  readonly seqs: Sequence[];
  /** False until the siblings have been forked from seqs[0] at the end of its prompt. */
  forked: boolean;
  /** Prompt tokens of seqs[0] served from the prefix cache at its first admission. */
  numCachedPromptTokens = 0;
  /** Scheduler step at which the request arrived (for aging). */
  arrivalStep = 0;
  /** Arrival order, the FCFS tie-break; set by the scheduler. */
  arrival = 0;

  constructor(
    readonly requestId: string,
    readonly promptTokenIds: readonly number[],
    readonly params: SamplingParams,
    /** Lower runs first, as in vLLM; requests of equal priority run first come, first served. */
    readonly priority = 0,
    readonly clientDriven = false,
    /** The compiled structured-output constraint each sequence gets a matcher of. */
    readonly grammar?: RemoteGrammar,
  ) {
    const n = clientDriven ? 1 : params.bestOf;
    // Shared, unchanged, by every output of the request.
    Object.freeze(promptTokenIds);
    this.seqs = Array.from({ length: n }, (_, i) => new Sequence(this, i, sequenceSeed(params, i)));
    this.forked = this.seqs.length === 1;
  }

  /** Sequences the scheduler may run now: unfinished and, before the fork, only the first. */
  get activeSeqs(): Sequence[] {
    return (this.forked ? this.seqs : this.seqs.slice(0, 1)).filter((s) => !s.isFinished);
  }

  /** The siblings still waiting to be forked from seqs[0]. */
  get pendingForks(): Sequence[] {
    return this.forked ? [] : this.seqs.slice(1);
  }

  /** Sequences this group will hold in a batch once forked: what admission must leave room for. */
  get maxNumRunningSeqs(): number {
    // A beam search grows to its width by forks between steps: admission reserves the room up front.
    if (this.clientDriven) return Math.max(this.params.beamWidth, this.seqs.filter((s) => !s.isFinished).length);
    return this.forked ? this.seqs.filter((s) => !s.isFinished).length : this.seqs.length;
  }

  get isFinished(): boolean {
    return this.seqs.every((s) => s.isFinished);
  }

  /** Frees every sequence's grammar matcher (a request that never ran, or left the core). */
  releaseMatchers(): void {
    for (const s of this.seqs) s.releaseMatcher();
  }

  /** A new sequence with parent's tokens and scores (the caller gives it parent's blocks). */
  fork(parent: Sequence): Sequence {
    const child = new Sequence(this, this.seqs.length, parent.seed, parent);
    child.numComputedTokens = parent.numComputedTokens;
    child.status = parent.status;
    this.seqs.push(child);
    return child;
  }
}
