import type { FinishReason, TokenLogprob } from '../outputs';
import type { SamplingParams } from '../sampling-params';

/** One hypothesis: the tokens it added after the prompt and their summed logprob. */
export interface Beam {
  tokens: number[];
  logprobs: number[];
  cumulativeLogprob: number;
  finish?: { reason: FinishReason; stopReason?: number };
  /** Index, among the live beams before the last advance, of the beam this one extends. */
  parent?: number;
}

/**
 * Beam search with vLLM's semantics: each step extends every live beam by its 2·W most likely tokens,
 * keeps the 2·W best candidates by cumulative logprob, moves those that end (eos, a stop token id,
 * maxTokens) to the finished pool (best W kept) and continues with the best W others. A beam's score is
 * cumulativeLogprob / length ** lengthPenalty, the length counting the prompt and not a final eos. With
 * earlyStopping the search ends once W beams have finished; without it, once no live beam can still beat
 * the worst finished one at its current length.
 */
export class BeamSearch {
  readonly width: number;
  private live: Beam[] = [{ tokens: [], logprobs: [], cumulativeLogprob: 0 }];
  private finished: Beam[] = [];
  private done = false;

  constructor(
    private readonly promptLen: number,
    private readonly params: SamplingParams,
    private readonly eosTokenIds: readonly number[],
  ) {
    this.width = params.beamWidth;
  }

  /** Candidate tokens to score per live beam. */
  get candidatesPerBeam(): number {
    return 2 * this.width;
  }

  get isDone(): boolean {
    return this.done;
  }

  /** The live beams whose next-token distribution the next step needs, in order. */
  get liveBeams(): readonly Beam[] {
    return this.live;
  }

  score(beam: Beam): number {
    const last = beam.tokens[beam.tokens.length - 1];
    const len = this.promptLen + beam.tokens.length - (beam.finish && this.eosTokenIds.includes(last) ? 1 : 0);
    return beam.cumulativeLogprob / Math.pow(len, this.params.lengthPenalty);
  }

  /** Extends the live beams with their top candidates (top[i] for liveBeams[i], most likely first). */
  advance(top: ReadonlyArray<readonly TokenLogprob[]>): void {
    const p = this.params;
    const candidates: Beam[] = [];
    this.live.forEach((beam, i) => {
      for (const c of top[i]) {
        candidates.push({ tokens: [...beam.tokens, c.token], logprobs: [...beam.logprobs, c.logprob], cumulativeLogprob: beam.cumulativeLogprob + c.logprob, parent: i });
      }
    });
    candidates.sort((a, b) => b.cumulativeLogprob - a.cumulativeLogprob);
    const running: Beam[] = [];
    for (const c of candidates.slice(0, 2 * this.width)) {
      const token = c.tokens[c.tokens.length - 1];
      const n = c.tokens.length;
      if (n >= p.minTokens && !p.ignoreEos && this.eosTokenIds.includes(token)) c.finish = { reason: 'stop' };
      else if (n >= p.minTokens && p.stopTokenIds.includes(token)) c.finish = { reason: 'stop', stopReason: token };
      else if (n >= p.maxTokens) c.finish = { reason: 'length' };
      (c.finish ? this.finished : running).push(c);
    }
    const byScore = (a: Beam, b: Beam) => this.score(b) - this.score(a);
    this.finished = this.finished.sort(byScore).slice(0, this.width);
    this.live = running.sort(byScore).slice(0, this.width);
    this.done = this.live.length === 0 || this.shouldStop();
  }

  /** The finished beams, best score first; live beams are dropped when the search stops early, as in vLLM. */
  results(): Beam[] {
    return this.finished;
  }

  private shouldStop(): boolean {
    if (this.finished.length < this.width) return false;
    if (this.params.earlyStopping) return true;
    const worstFinished = this.score(this.finished[this.finished.length - 1]);
    return worstFinished >= this.score(this.live[0]);
  }
}
