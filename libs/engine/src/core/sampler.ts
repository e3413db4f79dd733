import type { Backend, Tensor } from '@sluice/cuda-kernels';
import type { EngineError } from '../errors';
import type { TokenLogprob } from '../outputs';
import type { SamplingParams } from '../sampling-params';
import type { PendingMasks } from '../structured/pending-masks';
import { SamplingInputs } from './sampling-inputs';

export { hasPenalties } from './sampling-inputs';

/** One logits row to sample: its request's parameters and the RNG key (seed, step). */
export interface SampleRow {
  params: SamplingParams;
  seed: bigint;
  /** Tokens this sequence has sampled so far: with the seed it keys the draw, so batching cannot change it. */
  step: number;
  promptTokens: readonly number[];
  outputTokens: readonly number[];
  /** Top alternatives to report (0: none). */
  topK: number;
  /** Whether the sampled token's logprob is needed (asked for, or best-of / beam ranking). */
  wantsLogprob: boolean;
}

/** A launched sampling pass: its rows are computed on the device until read() brings them back. */
export interface SampledRows {
  numRows: number;
  /** Rows [0, numLogprobRows) carry the sampled token's logprob; rows [0, numTopRows) also carry top-k. */
  numLogprobRows: number;
  numTopRows: number;
  k: number;
  /** The sampled token ids, still on the device (the next step's decode inputs read them there). */
  tokens: Tensor;
  /** Which of the sampler's two result slots holds this pass. */
  slot: number;
  topK: readonly number[];
  /** Rows whose request a grammar fill ended this step (row index → why): their tokens are dropped. */
  failures?: ReadonlyMap<number, EngineError>;
}

/**
 * Logits → tokens and logprobs through the backend's sampling ops. Rows must come ordered: those wanting
 * top-k first, then those wanting only their token's logprob, then the rest, so each pass covers a prefix of
 * the logits and rows that asked for nothing cost no log-softmax. Every result lands in one flat buffer that
 * read() brings back with a single device-to-host copy.
 */
export class Sampler {
  /** Each step's controls, token lists and bitmasks, in one upload. */
  private readonly inputs: SamplingInputs;
  /**
   * Two slots, used in turn, so a launched step's results stay readable while the next step samples into the
   * other: each a device buffer, its pinned host twin the results are copied to, and an event marking the copy.
   */
  private readonly results: Tensor[];
  private readonly pinned: Tensor[];
  private readonly copied: number[];
  private turn = 0;
  private readonly scoreTargets: Tensor;
  private readonly scoreOut: Tensor;
  /** Engine-thread time spent on bitmasks (waiting for the grammar thread, uploading, applying), ms. */
  maskMs = 0;

  constructor(private readonly backend: Backend, private readonly maxRows: number, private readonly maxTopK: number) {
    const b = backend;
    this.inputs = new SamplingInputs(b);
    // Token ids, logprobs, top values and top indices of a step, 4 bytes each, read back in one copy.
    const size = maxRows * (2 + 2 * Math.max(1, maxTopK));
    this.results = [b.empty([size], 'f32'), b.empty([size], 'f32')];
    this.pinned = [b.emptyPinned([size], 'f32'), b.emptyPinned([size], 'f32')];
    this.copied = [b.createEvent(), b.createEvent()];
    this.scoreTargets = b.empty([maxRows], 'i32');
    this.scoreOut = b.empty([maxRows * (1 + 2 * Math.max(1, maxTopK))], 'f32');
  }

  /**
   * Queues sampling of one token per row of logits [rows.length, V] and the logprobs the rows asked for; with
   * masks (some row is constrained), only the tokens each row's grammar allows may be drawn.
   */
  launch(logits: Tensor, rows: readonly SampleRow[], masks?: PendingMasks): SampledRows {
    const b = this.backend;
    const B = rows.length;
    const L = rows.filter((r) => r.wantsLogprob || r.topK > 0).length;
    const K = rows.filter((r) => r.topK > 0).length;
    const k = Math.min(Math.max(0, ...rows.map((r) => r.topK)), this.maxTopK, logits.shape[1]);
    const slot = this.turn;
    this.turn ^= 1;
    const results = this.results[slot];
    const tokens = this.region(results, 0, B, 'i32');
    const start = performance.now();
    // The masks travel with the rows' controls: one upload. Waiting for them is the grammar thread's unhidden share.
    const filled = masks?.wait();
    const { params, mask } = this.inputs.stage(rows, filled?.masks);
    // Masked before sampling, so the draw and every logprob reported are those of the masked distribution.
    if (mask) {
      b.applyTokenBitmask(logits, mask);
      this.maskMs += performance.now() - start;
    }
    b.sample(tokens, logits, params);
    this.logprobs(results, B, logits, tokens, L, K, k);
    // Queued behind the sampling ops: the host waits for this copy alone, not for steps launched after it.
    const total = B + L + 2 * K * k;
    b.copy(b.narrow(this.pinned[slot], 0, total), b.narrow(results, 0, total));
    b.recordEvent(this.copied[slot]);
    const failures = filled?.failures.size ? filled.failures : undefined;
    return { numRows: B, numLogprobRows: L, numTopRows: K, k, tokens, slot, topK: rows.map((r) => r.topK), ...(failures ? { failures } : {}) };
  }

  /** Waits for a launched pass and returns each row's token and the logprobs it asked for (NaN where none). */
  read(s: SampledRows): TokenLogprob[] {
    const total = s.numRows + s.numLogprobRows + 2 * s.numTopRows * s.k;
    // Waits for this pass's copy alone (its event), not for the steps queued after it.
    const host = this.backend.toHost(this.backend.narrow(this.pinned[s.slot], 0, total), this.copied[s.slot]) as Float32Array;
    const ids = new Int32Array(host.buffer, host.byteOffset, s.numRows);
    return this.unpack(host, s.numRows, s.numLogprobRows, s.numTopRows, s.k, s.topK, (r) => ids[r]);
  }

  /** Logprob of the given token per row, with the top-k alternatives where k > 0 (prompt logprobs). */
  score(logits: Tensor, tokens: Int32Array, topK: readonly number[]): TokenLogprob[] {
    const b = this.backend;
    const B = tokens.length;
    if (B === 0) return [];
    const k = Math.min(Math.max(0, ...topK), this.maxTopK, logits.shape[1]);
    const K = k > 0 ? B : 0;
    const targets = b.narrow(this.scoreTargets, 0, B);
    b.copyFromHost(targets, tokens);
    this.logprobs(this.scoreOut, 0, logits, targets, B, K, k);
    const host = b.toHost(b.narrow(this.scoreOut, 0, B + 2 * K * k)) as Float32Array;
    return this.unpack(host, 0, B, K, k, topK, (r) => tokens[r]);
  }

  free(): void {
    for (const x of [...this.results, ...this.pinned, this.scoreTargets, this.scoreOut]) if (!x.freed) x.free();
    this.inputs.free();
    for (const e of this.copied) this.backend.destroyEvent(e);
  }

  // Into buf after `at` entries: the tokens' logprobs of the first L rows [L] f32, then top-k values [K, k] f32 and indices [K, k] i32.
  private logprobs(buf: Tensor, at: number, logits: Tensor, tokens: Tensor, L: number, K: number, k: number): void {
    const b = this.backend;
    if (L > 0) b.gatherLogProbs(this.region(buf, at, L, 'f32'), b.narrow(logits, 0, L), b.narrow(tokens, 0, L));
    if (K > 0 && k > 0) {
      const values = b.view(this.region(buf, at + L, K * k, 'f32'), [K, k]);
      const indices = b.view(this.region(buf, at + L + K * k, K * k, 'i32'), [K, k]);
      b.logSoftmaxTopK(values, indices, b.narrow(logits, 0, K), k);
    }
  }


  // Entries [start, start + n) of a flat 4-byte buffer, read as the given dtype.
  private region(buf: Tensor, start: number, n: number, dtype: 'f32' | 'i32'): Tensor {
    const v = this.backend.narrow(buf, start, start + n);
    return dtype === 'f32' ? v : this.backend.view(v, [n], 'i32');
  }

  private unpack(host: Float32Array, B: number, L: number, K: number, k: number, topK: readonly number[], tokenOf: (r: number) => number): TokenLogprob[] {
    const ints = new Int32Array(host.buffer, host.byteOffset, host.length);
    const n = Math.max(B, L);
    return Array.from({ length: n }, (_, r) => {
      const entry: TokenLogprob = { token: tokenOf(r), logprob: r < L ? host[B + r] : Number.NaN };
      if (r < K && topK[r] > 0) {
        const m = Math.min(topK[r], k);
        const base = B + L;
        entry.top = Array.from({ length: m }, (_, j) => ({ token: ints[base + K * k + r * k + j], logprob: host[base + r * k + j] }));
      }
      return entry;
    });
  }

}
