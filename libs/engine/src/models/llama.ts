import type { Backend, DType, Tensor } from '@sluice/cuda-kernels';
import type { ModelConfig } from '../model/config';
import type { KvCache } from './kv-cache';
import type { LlamaWeights } from './llama-weights';
import { ropeCosSin } from './rope';

/** One step's tokens, laid out by the model runner: prefill-chunk rows first, then one row per decode. */
export interface ForwardInput {
  numTokens: number;
  /** Rows [0, numPrefillTokens) are prefill chunks described by cuSeqlens; the rest are decodes. */
  numPrefillTokens: number;
  numPrefillSeqs: number;
  numDecodeSeqs: number;
  tokenIds: Int32Array;
  positions: Int32Array;
  slotMapping: Int32Array;
  /** [numPrefillSeqs + 1] row offsets of each chunk. */
  cuSeqlens: Int32Array;
  /** [(numPrefillSeqs + numDecodeSeqs) * blockTableWidth], prefill sequences first. */
  blockTables: Int32Array;
  /** Tokens in the cache after this step, per sequence, prefill sequences first. */
  contextLens: Int32Array;
}

export interface ModelLimits {
  maxTokens: number;
  maxSeqs: number;
  /** Rows whose logits one call computes at most. */
  maxLogitRows: number;
  maxPositions: number;
  blockTableWidth: number;
}

/**
 * The Llama family (Llama, Mistral, Qwen2) as a fixed sequence of backend ops. Every activation and input
 * buffer is allocated once at its largest size; a step writes into row-prefix views of them.
 */
export class LlamaModel {
  readonly dtype: DType;
  private readonly buffers: Tensor[] = [];
  private readonly ids: Tensor;
  private readonly positions: Tensor;
  private readonly slots: Tensor;
  private readonly cuSeqlens: Tensor;
  private readonly blockTables: Tensor;
  private readonly contextLens: Tensor;
  private readonly logitRows: Tensor;
  private readonly cosSin: Tensor;
  private readonly residual: Tensor;
  private readonly hidden: Tensor;
  private readonly q: Tensor;
  private readonly k: Tensor;
  private readonly v: Tensor;
  private readonly attn: Tensor;
  private readonly gateUp: Tensor;
  private readonly act: Tensor;
  private readonly gathered: Tensor;
  private readonly logitsBuf: Tensor;
  private readonly scale: number;
  private numTokens = 0;

  constructor(
    private readonly backend: Backend,
    private readonly config: ModelConfig,
    private readonly weights: LlamaWeights,
    private readonly kv: KvCache,
    readonly limits: ModelLimits,
  ) {
    const c = config;
    const T = limits.maxTokens;
    this.dtype = weights.embed.dtype;
    const act = (shape: number[]) => this.alloc(shape, this.dtype);
    const i32 = (shape: number[]) => this.alloc(shape, 'i32');
    this.ids = i32([T]);
    this.positions = i32([T]);
    this.slots = i32([T]);
    this.cuSeqlens = i32([limits.maxSeqs + 1]);
    this.blockTables = i32([limits.maxSeqs, limits.blockTableWidth]);
    this.contextLens = i32([limits.maxSeqs]);
    this.logitRows = i32([limits.maxLogitRows]);
    this.cosSin = backend.fromHost(ropeCosSin(c.rope, c.headDim, limits.maxPositions), [limits.maxPositions, c.headDim], 'f32');
    this.buffers.push(this.cosSin);
    this.residual = act([T, c.hiddenSize]);
    this.hidden = act([T, c.hiddenSize]);
    this.q = act([T, c.numHeads * c.headDim]);
    this.k = act([T, c.numKvHeads * c.headDim]);
    this.v = act([T, c.numKvHeads * c.headDim]);
    this.attn = act([T, c.numHeads * c.headDim]);
    this.gateUp = act([T, 2 * c.intermediateSize]);
    this.act = act([T, c.intermediateSize]);
    this.gathered = act([limits.maxLogitRows, c.hiddenSize]);
    this.logitsBuf = act([limits.maxLogitRows, c.vocabSize]);
    this.scale = 1 / Math.sqrt(c.headDim);
  }

  /** Runs every layer over the step's tokens and writes their K/V into the cache; logits() reads the result. */
  forward(input: ForwardInput): void {
    const b = this.backend;
    const c = this.config;
    const T = input.numTokens;
    const Tp = input.numPrefillTokens;
    const P = input.numPrefillSeqs;
    const S = P + input.numDecodeSeqs;
    const rows = (t: Tensor, n = T) => b.narrow(t, 0, n);
    this.numTokens = T;
    const ids = this.stage(this.ids, input.tokenIds, T);
    const positions = this.stage(this.positions, input.positions, T);
    const slots = this.stage(this.slots, input.slotMapping, T);
    const tables = this.stage(this.blockTables, input.blockTables, S);
    const ctx = this.stage(this.contextLens, input.contextLens, S);
    const cu = P > 0 ? this.stage(this.cuSeqlens, input.cuSeqlens, P + 1) : undefined;
    const [residual, hidden, q, k, v, attn, gateUp, act] =
      [this.residual, this.hidden, this.q, this.k, this.v, this.attn, this.gateUp, this.act].map((t) => rows(t));

    b.embedding(residual, this.weights.embed, ids);
    this.weights.layers.forEach((w, l) => {
      // Layer 0 normalises the embeddings; later layers fold the previous MLP's residual add into their norm.
      if (l === 0) b.rmsNorm(hidden, residual, w.inputNorm, c.rmsNormEps);
      else b.fusedAddRmsNorm(hidden, residual, w.inputNorm, c.rmsNormEps);
      b.gemm(q, hidden, w.q, w.qBias);
      b.gemm(k, hidden, w.k, w.kBias);
      b.gemm(v, hidden, w.v, w.vBias);
      b.rotaryEmbedding(positions, q, k, c.headDim, this.cosSin);
      b.reshapeAndCache(k, v, this.kv.k[l], this.kv.v[l], slots);
      if (P > 0) {
        b.prefillAttention(
          b.narrow(attn, 0, Tp), b.narrow(q, 0, Tp), this.kv.k[l], this.kv.v[l],
          cu!, b.narrow(tables, 0, P), b.narrow(ctx, 0, P), this.scale,
        );
      }
      if (S > P) {
        b.pagedAttentionDecode(
          b.narrow(attn, Tp, T), b.narrow(q, Tp, T), this.kv.k[l], this.kv.v[l],
          b.narrow(tables, P, S), b.narrow(ctx, P, S), this.scale,
        );
      }
      b.gemm(hidden, attn, w.o);
      b.fusedAddRmsNorm(hidden, residual, w.postNorm, c.rmsNormEps);
      b.gemm(gateUp, hidden, w.gateUp);
      b.siluAndMul(act, gateUp);
      b.gemm(hidden, act, w.down);
    });
    b.fusedAddRmsNorm(hidden, residual, this.weights.norm, c.rmsNormEps);
  }

  /** Logits [rows.length, vocab] of the given token rows of the last forward (a row may repeat). */
  logits(rowIds: Int32Array): Tensor {
    const b = this.backend;
    const R = rowIds.length;
    if (R > this.limits.maxLogitRows) throw new RangeError(`logits: ${R} rows exceed maxLogitRows ${this.limits.maxLogitRows}`);
    const hidden = b.narrow(this.hidden, 0, this.numTokens);
    const gathered = b.narrow(this.gathered, 0, R);
    // embedding() is a row gather: it picks the final hidden states of the rows that need logits.
    b.embedding(gathered, hidden, this.stage(this.logitRows, rowIds, R));
    const logits = b.narrow(this.logitsBuf, 0, R);
    b.gemm(logits, gathered, this.weights.lmHead);
    return logits;
  }

  free(): void {
    for (const t of this.buffers) if (!t.freed) t.free();
  }

  private alloc(shape: number[], dtype: DType): Tensor {
    const t = this.backend.empty(shape, dtype);
    this.buffers.push(t);
    return t;
  }

  // Copies the first n rows of host data into a prefix view of a device buffer.
  private stage(buf: Tensor, data: Int32Array, n: number): Tensor {
    const view = this.backend.narrow(buf, 0, n);
    const width = buf.shape.length > 1 ? buf.shape[1] : 1;
    this.backend.copyFromHost(view, data.subarray(0, n * width));
    return view;
  }
}
