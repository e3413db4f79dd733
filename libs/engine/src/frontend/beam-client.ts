import type { Sequence, SequenceGroup } from '../core/sequence';
import type { CompletionOutput, RequestOutput, RequestTimings, TokenLogprob } from '../outputs';
import type { SamplingParams } from '../sampling-params';
import { Beam, BeamSearch } from './beam-search';

/** What beam search needs of the engine core: sequences it can grow, fork and end. */
export interface BeamCore {
  fork(parent: Sequence): Sequence;
  appendToken(seq: Sequence, token: TokenLogprob): void;
  finishSeq(seq: Sequence): void;
  decode(ids: readonly number[], skipSpecialTokens: boolean): string;
  eosTokenIds: readonly number[];
}

interface BeamRequest {
  group: SequenceGroup;
  prompt?: string;
  search: BeamSearch;
  /** The core sequence of each live beam, in the search's live order. */
  seqs: Sequence[];
  /** Candidates reported this round, by live index. */
  top: Array<readonly TokenLogprob[] | undefined>;
  reported: number;
  timings: RequestTimings;
}

/**
 * Beam search as a client of the core: each live beam is one client-driven sequence. When every live beam
 * has reported its 2·W candidates, the search picks the survivors; a beam extended once continues in its own
 * sequence, one extended more than once is forked first (its blocks shared copy-on-write, so the prompt is
 * held once however many beams grow from it), and a beam left without survivors is ended.
 */
export class BeamClient {
  private readonly byId = new Map<string, BeamRequest>();

  constructor(private readonly core: BeamCore) {}

  get size(): number {
    return this.byId.size;
  }

  has(requestId: string): boolean {
    return this.byId.has(requestId);
  }

  add(group: SequenceGroup, prompt: string | undefined): void {
    const search = new BeamSearch(group.promptTokenIds.length, group.params, this.core.eosTokenIds);
    this.byId.set(group.requestId, { group, prompt, search, seqs: [group.seqs[0]], top: [], reported: 0, timings: { arrivalMs: Date.now() } });
  }

  /** Takes a beam sequence's candidates; returns the request's final output once its search ends. */
  onCandidates(seq: Sequence, result: TokenLogprob): RequestOutput | undefined {
    const r = this.byId.get(seq.group.requestId);
    if (!r) return undefined;
    const k = r.seqs.indexOf(seq);
    if (k < 0 || r.top[k]) return undefined;
    r.timings.firstScheduledMs ??= Date.now();
    r.timings.firstTokenMs ??= Date.now();
    // Under a grammar the masked tokens come back with logprob -inf: they are no candidates.
    r.top[k] = (result.top ?? []).filter((c) => c.logprob > -Infinity);
    if (++r.reported < r.seqs.length) return undefined;
    r.search.advance(r.top as TokenLogprob[][]);
    if (r.search.isDone) return this.finish(r, r.search.results(), false);
    this.regrow(r);
    return undefined;
  }

  /** Drops a search; its live beams are reported with finishReason 'abort' (the caller aborts the core request). */
  abort(requestId: string): RequestOutput | undefined {
    const r = this.byId.get(requestId);
    return r && this.finish(r, r.search.liveBeams, true);
  }

  // Gives each new live beam a sequence: its parent's own, or a fork of it; parents without survivors end.
  private regrow(r: BeamRequest): void {
    const parents = r.seqs;
    const used = new Set<number>();
    const next = r.search.liveBeams.map((beam: Beam) => {
      const p = beam.parent!;
      const seq = used.has(p) ? this.core.fork(parents[p]) : parents[p];
      used.add(p);
      return seq;
    });
    // Forks above copied their parent before any token is appended below.
    r.search.liveBeams.forEach((beam, i) => this.core.appendToken(next[i], { token: beam.tokens[beam.tokens.length - 1], logprob: beam.logprobs[beam.logprobs.length - 1] }));
    parents.forEach((seq, p) => {
      if (!used.has(p)) this.core.finishSeq(seq);
    });
    r.seqs = next;
    r.top = [];
    r.reported = 0;
  }

  private finish(r: BeamRequest, beams: readonly Beam[], aborted: boolean): RequestOutput {
    this.byId.delete(r.group.requestId);
    for (const seq of r.seqs) this.core.finishSeq(seq);
    r.timings.finishedMs = Date.now();
    return beamOutput(r, beams, aborted, this.core);
  }
}

function beamOutput(r: BeamRequest, beams: readonly Beam[], aborted: boolean, core: BeamCore): RequestOutput {
  const params: SamplingParams = r.group.params;
  const outputs = beams.map((b, index): CompletionOutput => {
    const last = b.tokens[b.tokens.length - 1];
    // As for sampled sequences, the eos / stop token that ended a beam is not part of its text.
    const ended = b.finish?.reason === 'stop' && (core.eosTokenIds.includes(last) || b.finish.stopReason === last);
    const text = core.decode(ended ? b.tokens.slice(0, -1) : b.tokens, params.skipSpecialTokens);
    const c: CompletionOutput = {
      index, text, delta: text, tokenIds: [...b.tokens], cumulativeLogprob: b.cumulativeLogprob,
      finishReason: aborted ? 'abort' : (b.finish?.reason ?? null),
    };
    if (!aborted && b.finish?.stopReason !== undefined) c.stopReason = b.finish.stopReason;
    if (params.logprobs !== undefined) c.logprobs = b.tokens.map((token, i) => ({ token, logprob: b.logprobs[i] }));
    return c;
  });
  const promptTokenIds = r.group.promptTokenIds;
  const out: RequestOutput = {
    requestId: r.group.requestId,
    promptTokenIds,
    outputs,
    finished: true,
    usage: {
      promptTokens: promptTokenIds.length,
      completionTokens: outputs.reduce((n, c) => n + c.tokenIds.length, 0),
      cachedPromptTokens: r.group.numCachedPromptTokens,
    },
    timings: { ...r.timings },
  };
  if (r.prompt !== undefined) out.prompt = r.prompt;
  return out;
}
