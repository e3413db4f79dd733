import { Beam, BeamSearch } from './beam-search';
import type { CompletionOutput, RequestOutput, RequestTimings, TokenLogprob } from './outputs';
import { SamplingParams } from './sampling-params';

/** What driving a beam search needs of the engine. */
export interface BeamHost {
  /** Queues an internal request (already checked to fit). */
  enqueue(id: string, promptTokenIds: number[], params: SamplingParams, priority: number): void;
  /** Drops an internal request and frees its blocks. */
  abort(id: string): void;
  decode(ids: readonly number[], skipSpecialTokens: boolean): string;
  eosTokenIds: readonly number[];
}

interface BeamRequest {
  requestId: string;
  prompt?: string;
  promptTokenIds: number[];
  params: SamplingParams;
  priority: number;
  search: BeamSearch;
  step: number;
  /** Internal request id → index of the live beam it scores. */
  pending: Map<string, number>;
  top: TokenLogprob[][];
  cachedPromptTokens: number;
  timings: RequestTimings;
}

/**
 * Runs beam-search requests on the engine: every step of a search is one internal single-token request per
 * live beam (prompt + beam as its prompt, 2W top logprobs), which the prefix cache keeps cheap; when all of
 * a step's requests have finished, the search advances and the next step's requests are queued.
 */
export class BeamRequests {
  private readonly byId = new Map<string, BeamRequest>();
  private readonly ofInternal = new Map<string, BeamRequest>();

  constructor(private readonly host: BeamHost) {}

  get size(): number {
    return this.byId.size;
  }

  get numInternal(): number {
    return this.ofInternal.size;
  }

  has(requestId: string): boolean {
    return this.byId.has(requestId);
  }

  isInternal(id: string): boolean {
    return this.ofInternal.has(id);
  }

  add(requestId: string, prompt: string | undefined, promptTokenIds: number[], params: SamplingParams, priority: number): void {
    const r: BeamRequest = {
      requestId, prompt, promptTokenIds, params, priority, step: 0, pending: new Map(), top: [], cachedPromptTokens: 0,
      search: new BeamSearch(promptTokenIds.length, params, this.host.eosTokenIds),
      timings: { arrivalMs: Date.now() },
    };
    this.byId.set(requestId, r);
    this.queueStep(r);
  }

  /** Takes a finished internal request's candidates; returns the search's final output once it ends. */
  onInternalFinished(out: RequestOutput): RequestOutput | undefined {
    const r = this.ofInternal.get(out.requestId)!;
    this.ofInternal.delete(out.requestId);
    const k = r.pending.get(out.requestId)!;
    r.pending.delete(out.requestId);
    r.top[k] = out.outputs[0].logprobs![0].top ?? [];
    if (r.step === 0 && k === 0) {
      r.cachedPromptTokens = out.usage.cachedPromptTokens;
      r.timings.firstScheduledMs = out.timings.firstScheduledMs;
      r.timings.firstTokenMs = out.timings.firstTokenMs;
    }
    if (r.pending.size > 0) return undefined;
    r.search.advance(r.top);
    r.step++;
    if (!r.search.isDone) {
      this.queueStep(r);
      return undefined;
    }
    this.byId.delete(r.requestId);
    r.timings.finishedMs = Date.now();
    return this.output(r, r.search.results(), false);
  }

  /** Drops a search and its internal requests; its live beams are reported with finishReason 'abort'. */
  abort(requestId: string): RequestOutput {
    const r = this.byId.get(requestId)!;
    for (const id of r.pending.keys()) {
      this.ofInternal.delete(id);
      this.host.abort(id);
    }
    this.byId.delete(requestId);
    r.timings.finishedMs = Date.now();
    return this.output(r, r.search.liveBeams, true);
  }

  private queueStep(r: BeamRequest): void {
    const params = new SamplingParams({ temperature: 0, maxTokens: 1, ignoreEos: true, logprobs: r.search.candidatesPerBeam });
    r.top = [];
    r.search.liveBeams.forEach((beam, k) => {
      // A NUL cannot appear in a caller's id by accident, so internal ids never collide with real ones.
      const id = `${r.requestId}\u0000beam${r.step}.${k}`;
      this.host.enqueue(id, [...r.promptTokenIds, ...beam.tokens], params, r.priority);
      r.pending.set(id, k);
      this.ofInternal.set(id, r);
    });
  }

  private output(r: BeamRequest, beams: readonly Beam[], aborted: boolean): RequestOutput {
    const eos = this.host.eosTokenIds;
    const outputs = beams.map((b, index): CompletionOutput => {
      const last = b.tokens[b.tokens.length - 1];
      // As for sampled sequences, the eos / stop token that ended a beam is not part of its text.
      const ended = b.finish?.reason === 'stop' && (eos.includes(last) || b.finish.stopReason === last);
      const text = this.host.decode(ended ? b.tokens.slice(0, -1) : b.tokens, r.params.skipSpecialTokens);
      const c: CompletionOutput = {
        index, text, delta: text, tokenIds: [...b.tokens], cumulativeLogprob: b.cumulativeLogprob,
        finishReason: aborted ? 'abort' : (b.finish?.reason ?? null),
      };
      if (!aborted && b.finish?.stopReason !== undefined) c.stopReason = b.finish.stopReason;
      if (r.params.logprobs !== undefined) c.logprobs = b.tokens.map((token, i) => ({ token, logprob: b.logprobs[i] }));
      return c;
    });
    const out: RequestOutput = {
      requestId: r.requestId,
      promptTokenIds: [...r.promptTokenIds],
      outputs,
      finished: true,
      usage: {
        promptTokens: r.promptTokenIds.length,
        completionTokens: outputs.reduce((n, c) => n + c.tokenIds.length, 0),
        cachedPromptTokens: r.cachedPromptTokens,
      },
      timings: { ...r.timings },
    };
    if (r.prompt !== undefined) out.prompt = r.prompt;
    return out;
  }
}
