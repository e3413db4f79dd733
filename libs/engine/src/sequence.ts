import type { SamplingParams } from './sampling-params';

export type SequenceStatus = 'waiting' | 'running' | 'swapped' | 'finished';

let nextSeqId = 0;

/**
 * One token stream: the prompt followed by what was generated. The KV cache holds positions
 * [0, numComputedTokens); the tokens after that are computed in the next steps (a prefill chunk or a decode).
 */
export class Sequence {
  readonly seqId = nextSeqId++;
  readonly tokenIds: number[];
  readonly promptLen: number;
  numComputedTokens = 0;
  status: SequenceStatus = 'waiting';

  constructor(promptTokenIds: readonly number[]) {
    this.tokenIds = [...promptTokenIds];
    this.promptLen = promptTokenIds.length;
  }

  get outputLen(): number {
    return this.tokenIds.length - this.promptLen;
  }

  /** Tokens not yet in the cache: 1 for a decode, more for a (re)prefill. */
  get numUncomputed(): number {
    return this.tokenIds.length - this.numComputedTokens;
  }

  get isFinished(): boolean {
    return this.status === 'finished';
  }

  appendToken(token: number): void {
    this.tokenIds.push(token);
  }
}

/**
 * A request: bestOf sequences over one prompt. Only the first is prefilled; when its prompt is in the cache
 * the others are forked from it and share its blocks, so the prompt is computed and stored once.
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
  ) {
    this.seqs = Array.from({ length: params.bestOf }, () => new Sequence(promptTokenIds));
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
    return this.forked ? this.seqs.filter((s) => !s.isFinished).length : this.seqs.length;
  }

  get isFinished(): boolean {
    return this.seqs.every((s) => s.isFinished);
  }
}
