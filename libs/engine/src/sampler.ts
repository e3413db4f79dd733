import type { Backend, SamplingTensors, Tensor } from '@sluice/cuda-kernels';
import type { TokenLogprob } from './outputs';
import type { SamplingParams } from './sampling-params';

/** One logits row to sample: its request's parameters and the RNG key (seed, step). */
export interface SampleRow {
  params: SamplingParams;
  seed: bigint;
  /** Tokens this sequence has sampled so far: with the seed it keys the draw, so batching cannot change it. */
  step: number;
  promptTokens: readonly number[];
  outputTokens: readonly number[];
}

function hasPenalties(p: SamplingParams): boolean {
  return p.repetitionPenalty !== 1 || p.presencePenalty !== 0 || p.frequencyPenalty !== 0;
}

/**
 * Logits → tokens and logprobs through the backend's sampling ops. Per-row parameter tensors are allocated
 * once for maxRows; the packed penalty token lists grow only when a step needs more than ever before.
 */
export class Sampler {
  private readonly t: SamplingTensors;
  private readonly out: Tensor;
  private readonly logprobs: Tensor;
  private readonly topValues: Tensor;
  private readonly topIndices: Tensor;
  private readonly targets: Tensor;
  private promptCap = 0;
  private outputCap = 0;

  constructor(private readonly backend: Backend, private readonly maxRows: number, private readonly maxTopK: number) {
    const b = backend;
    const f32 = () => b.empty([maxRows], 'f32');
    this.t = {
      temperature: f32(), topK: b.empty([maxRows], 'i32'), topP: f32(), minP: f32(), repetitionPenalty: f32(),
      presencePenalty: f32(), frequencyPenalty: f32(),
      promptTokens: b.empty([1], 'i32'), promptOffsets: b.empty([maxRows + 1], 'i32'),
      outputTokens: b.empty([1], 'i32'), outputOffsets: b.empty([maxRows + 1], 'i32'),
      seeds: b.empty([maxRows], 'i64'), steps: b.empty([maxRows], 'i64'),
    };
    this.out = b.empty([maxRows], 'i32');
    this.logprobs = f32();
    this.targets = b.empty([maxRows], 'i32');
    // Flat, so a step's [B, k] is a prefix view whatever k it asks for.
    this.topValues = b.empty([maxRows * Math.max(1, maxTopK)], 'f32');
    this.topIndices = b.empty([maxRows * Math.max(1, maxTopK)], 'i32');
  }

  /** Samples one token per row of logits [rows.length, V]; logprobs are of the model's raw distribution. */
  sample(logits: Tensor, rows: readonly SampleRow[]): TokenLogprob[] {
    const b = this.backend;
    const B = rows.length;
    if (B === 0) return [];
    const t = this.t;
    const put = (dst: Tensor, data: Float32Array | Int32Array | BigInt64Array, n = B) => {
      const view = b.narrow(dst, 0, n);
      b.copyFromHost(view, data);
      return view;
    };
    const params = rows.map((r) => r.params);
    const prompt = this.packed('prompt', rows.map((r) => (hasPenalties(r.params) ? r.promptTokens : [])));
    const output = this.packed('output', rows.map((r) => (hasPenalties(r.params) ? r.outputTokens : [])));
    const view: SamplingTensors = {
      temperature: put(t.temperature, Float32Array.from(params, (p) => p.temperature)),
      topK: put(t.topK, Int32Array.from(params, (p) => p.topK)),
      topP: put(t.topP, Float32Array.from(params, (p) => p.topP)),
      minP: put(t.minP, Float32Array.from(params, (p) => p.minP)),
      repetitionPenalty: put(t.repetitionPenalty, Float32Array.from(params, (p) => p.repetitionPenalty)),
      presencePenalty: put(t.presencePenalty, Float32Array.from(params, (p) => p.presencePenalty)),
      frequencyPenalty: put(t.frequencyPenalty, Float32Array.from(params, (p) => p.frequencyPenalty)),
      promptTokens: prompt.tokens,
      promptOffsets: prompt.offsets,
      outputTokens: output.tokens,
      outputOffsets: output.offsets,
      seeds: put(t.seeds, BigInt64Array.from(rows, (r) => r.seed)),
      steps: put(t.steps, BigInt64Array.from(rows, (r) => BigInt(r.step))),
    };
    const out = b.narrow(this.out, 0, B);
    b.sample(out, logits, view);
    const tokens = b.toHost(out) as Int32Array;
    return this.score(logits, tokens, params.map((p) => p.logprobs ?? 0));
  }

  /** Logprob of the given token per row, with the top-k alternatives where k > 0. */
  score(logits: Tensor, tokens: Int32Array, topK: readonly number[]): TokenLogprob[] {
    const b = this.backend;
    const B = tokens.length;
    if (B === 0) return [];
    const targets = b.narrow(this.targets, 0, B);
    b.copyFromHost(targets, tokens);
    const lp = b.narrow(this.logprobs, 0, B);
    b.gatherLogProbs(lp, logits, targets);
    const logprobs = b.toHost(lp) as Float32Array;
    const k = Math.min(Math.max(0, ...topK), this.maxTopK, logits.shape[1]);
    let values: Float32Array | undefined;
    let indices: Int32Array | undefined;
    if (k > 0) {
      const v2 = b.view(b.narrow(this.topValues, 0, B * k), [B, k]);
      const i2 = b.view(b.narrow(this.topIndices, 0, B * k), [B, k]);
      b.logSoftmaxTopK(v2, i2, logits, k);
      values = b.toHost(v2) as Float32Array;
      indices = b.toHost(i2) as Int32Array;
    }
    return Array.from(tokens, (token, r) => {
      const entry: TokenLogprob = { token, logprob: logprobs[r] };
      if (values && indices && topK[r] > 0) {
        const n = Math.min(topK[r], k);
        entry.top = Array.from({ length: n }, (_, j) => ({ token: indices![r * k + j], logprob: values![r * k + j] }));
      }
      return entry;
    });
  }

  free(): void {
    for (const x of [...Object.values(this.t), this.out, this.logprobs, this.targets, this.topValues, this.topIndices]) if (!x.freed) x.free();
  }

  // Packs per-row token lists into the tokens/offsets pair, growing the token buffer when it is too small.
  private packed(kind: 'prompt' | 'output', lists: ReadonlyArray<readonly number[]>): { tokens: Tensor; offsets: Tensor } {
    const b = this.backend;
    const offsets = new Int32Array(lists.length + 1);
    lists.forEach((l, i) => (offsets[i + 1] = offsets[i] + l.length));
    const total = offsets[lists.length];
    const tokKey = kind === 'prompt' ? 'promptTokens' : 'outputTokens';
    const offKey = kind === 'prompt' ? 'promptOffsets' : 'outputOffsets';
    const cap = kind === 'prompt' ? this.promptCap : this.outputCap;
    if (total > cap) {
      const grown = Math.max(total, 2 * cap, 1024);
      this.t[tokKey].free();
      this.t[tokKey] = b.empty([grown], 'i32');
      if (kind === 'prompt') this.promptCap = grown;
      else this.outputCap = grown;
    }
    const tokens = b.narrow(this.t[tokKey], 0, total);
    if (total > 0) b.copyFromHost(tokens, Int32Array.from(lists.flat()));
    const off = b.narrow(this.t[offKey], 0, lists.length + 1);
    b.copyFromHost(off, offsets);
    return { tokens, offsets: off };
  }
}
