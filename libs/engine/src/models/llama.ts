import type { Backend, DType, Tensor } from '@sluice/cuda-kernels';
import type { ModelConfig } from '../model/config';
import type { KvCache } from './kv-cache';
import type { LlamaWeights } from './llama-weights';
import { ropeCosSin } from './rope';

/** One step's model inputs on the device; prefill sequences come first, then one row per decode. */
export interface StepInputs {
  numTokens: number;
  numPrefillTokens: number;
  numPrefillSeqs: number;
  numDecodeSeqs: number;
  tokenIds: Tensor;
  positions: Tensor;
  slotMapping: Tensor;
  /** [numPrefillSeqs + 1] row offsets of each prefill chunk. */
  cuSeqlens: Tensor;
  /** [numSeqs, width]: width covers the longest context of the step, not maxModelLen. */
  blockTables: Tensor;
  /** Tokens in the cache after this step, per sequence. */
  contextLens: Tensor;
  /** The longest context among the decodes (what sizes decode attention's split-K). */
  maxDecodeContext: number;
}

export interface ModelLimits {
  maxTokens: number;
  /** Rows whose logits one call computes at most. */
  maxLogitRows: number;
  maxPositions: number;
}

/**
 * The Llama family (Llama, Mistral, Qwen2) as a fixed sequence of backend ops. Every activation and input
 * buffer is allocated once at its largest size; a step writes into row-prefix views of them.
 */
export class LlamaModel {
  readonly dtype: DType;
  private readonly buffers: Tensor[] = [];
  private readonly logitRows: Tensor;
  private readonly cosSin: Tensor;
  private readonly residual: Tensor;
  private readonly hidden: Tensor;
  private readonly qkv: Tensor;
  private readonly q: Tensor;
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
    this.logitRows = i32([limits.maxLogitRows]);
    this.cosSin = backend.fromHost(ropeCosSin(c.rope, c.headDim, limits.maxPositions), [limits.maxPositions, c.headDim], 'f32');
    this.buffers.push(this.cosSin);
    this.residual = act([T, c.hiddenSize]);
    this.hidden = act([T, c.hiddenSize]);
    this.qkv = act([T, (c.numHeads + 2 * c.numKvHeads) * c.headDim]);
    this.q = act([T, c.numHeads * c.headDim]);
    this.attn = act([T, c.numHeads * c.headDim]);
    this.gateUp = act([T, 2 * c.intermediateSize]);
    this.act = act([T, c.intermediateSize]);
    this.gathered = act([limits.maxLogitRows, c.hiddenSize]);
    this.logitsBuf = act([limits.maxLogitRows, c.vocabSize]);
    this.scale = 1 / Math.sqrt(c.headDim);
  }

  /** Runs every layer over the step's tokens and writes their K/V into the cache; logits() reads the result. */
  forward(x: StepInputs): void {
    const b = this.backend;
    const c = this.config;
    const T = x.numTokens;
    const Tp = x.numPrefillTokens;
    const P = x.numPrefillSeqs;
    const S = P + x.numDecodeSeqs;
    this.numTokens = T;
    // Every view a layer uses is made once per step, not per layer.
    const [residual, hidden, qkv, q, attn, gateUp, act] =
      [this.residual, this.hidden, this.qkv, this.q, this.attn, this.gateUp, this.act].map((t) => b.narrow(t, 0, T));
    const prefill = P > 0 && {
      out: b.narrow(attn, 0, Tp), q: b.narrow(q, 0, Tp), cu: b.narrow(x.cuSeqlens, 0, P + 1),
      tables: b.narrow(x.blockTables, 0, P), ctx: b.narrow(x.contextLens, 0, P),
    };
    const decode = S > P && {
      out: b.narrow(attn, Tp, T), q: b.narrow(q, Tp, T), tables: b.narrow(x.blockTables, P, S), ctx: b.narrow(x.contextLens, P, S),
    };

    b.embedding(residual, this.weights.embed, x.tokenIds);
    this.weights.layers.forEach((w, l) => {
      // Layer 0 normalises the embeddings; later layers fold the previous MLP's residual add into their norm.
      if (l === 0) b.rmsNorm(hidden, residual, w.inputNorm, c.rmsNormEps);
      else b.fusedAddRmsNorm(hidden, residual, w.inputNorm, c.rmsNormEps);
      b.gemm(qkv, hidden, w.qkv, w.qkvBias);
      b.splitQkvRotaryCache(q, qkv, x.positions, this.cosSin, this.kv.k[l], this.kv.v[l], x.slotMapping);
      if (prefill) b.prefillAttention(prefill.out, prefill.q, this.kv.k[l], this.kv.v[l], prefill.cu, prefill.tables, prefill.ctx, this.scale);
      if (decode) {
        b.pagedAttentionDecode(decode.out, decode.q, this.kv.k[l], this.kv.v[l], decode.tables, decode.ctx, this.scale, x.maxDecodeContext);
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
