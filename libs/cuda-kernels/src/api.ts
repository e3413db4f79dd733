// The op set the engine is written against. Both backends implement it with identical semantics;
// shapes are row-major and every op writes into caller-owned output tensors so a decode step allocates nothing.

export type DType = 'f32' | 'f16' | 'bf16' | 'i32' | 'i64' | 'u8';

export interface LoadSafetensorsOptions {
  /** Keep bf16/f16 tensors in the file's dtype on the cpu backend too (its gemm takes bf16 weights); default false. */
  asStored?: boolean;
}

/**
 * The CPU kernel set chosen at load by CPUID (or SLUICE_CPU_ISA=avx2|avx512|avx512bf16; avx512bf16 multiplies bf16 weights
 * by bf16-rounded activations in pair dot products), and whether the CPU has AVX512_BF16.
 */
export interface CpuKernelPath {
  path: 'avx512bf16' | 'avx512' | 'avx2' | 'generic';
  avx512bf16: boolean;
}
export type DeviceKind = 'cpu' | 'cuda';
export type HostArray = Float32Array | Uint16Array | Int32Array | BigInt64Array | Uint8Array;

export interface Tensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly device: DeviceKind;
  readonly numel: number;
  readonly freed: boolean;
  /** Returns the memory to the backend's caching pool; any later use throws. */
  free(): void;
}

/** Per-row sampling controls; every array has one entry per logits row. */
export interface SamplingTensors {
  temperature: Tensor; // f32 [B]; 0 means greedy
  topK: Tensor; // i32 [B]; <= 0 disables
  topP: Tensor; // f32 [B]; 1 disables
  minP: Tensor; // f32 [B]; 0 disables
  repetitionPenalty: Tensor; // f32 [B]; 1 disables; applies to prompt and generated tokens
  presencePenalty: Tensor; // f32 [B]; applies to generated tokens
  frequencyPenalty: Tensor; // f32 [B]; applies to generated tokens
  promptTokens: Tensor; // i32 [sum prompt lens], packed by promptOffsets
  promptOffsets: Tensor; // i32 [B + 1]
  outputTokens: Tensor; // i32 [sum output lens], packed by outputOffsets
  outputOffsets: Tensor; // i32 [B + 1]
  seeds: Tensor; // i64 [B]; the RNG stream of a row is keyed by (seed, step) so batching never changes it
  steps: Tensor; // i64 [B]; number of tokens this row has sampled so far
}

export interface Backend {
  readonly device: DeviceKind;

  // Memory
  empty(shape: readonly number[], dtype: DType): Tensor;
  fromHost(data: HostArray, shape: readonly number[], dtype: DType): Tensor;
  /** Writes host data into an existing tensor (no allocation); sizes must match. */
  copyFromHost(dst: Tensor, src: HostArray): void;
  /**
   * A host copy of src. From device memory it waits for the ops queued before it. From pinned memory (written by
   * queued copies) it waits for the whole stream, or, given afterEvent, only for that recorded event, so a step's
   * results can be read while later steps are still queued.
   */
  toHost(src: Tensor, afterEvent?: number): HostArray;
  /**
   * A view with a new shape over the same memory; numel must match. With dtype, the same bytes read as
   * another dtype of the same element size (f32 <-> i32, f16 <-> bf16), so one buffer can hold sampled ids and
   * their logprobs and come back in one toHost; or of another size when the view covers exactly t's bytes from
   * an offset aligned to it (i64 inside an i32 staging buffer, sent in one upload); E_DTYPE otherwise.
   */
  view(t: Tensor, shape: readonly number[], dtype?: DType): Tensor;
  /** Rows [start, end) of the first dimension, as a view. */
  narrow(t: Tensor, start: number, end: number): Tensor;
  /** Tensors of a .safetensors file by name; CPU maps the file and widens bf16/f16 to f32 once (unless asStored). */
  loadSafetensors(path: string, options?: LoadSafetensorsOptions): Map<string, Tensor>;
  /** A host tensor in page-locked memory (device 'cpu'), the far side of swapBlocks. */
  emptyPinned(shape: readonly number[], dtype: DType): Tensor;
  synchronize(): void;
  /** Bytes held by the pool, in use and cached. */
  memoryStats(): { allocatedBytes: number; cachedBytes: number; totalDeviceBytes: number; freeDeviceBytes: number };
  /** Returns the pool's cached blocks (freed, not in use) to the device or the system, e.g. load-time buffers. */
  emptyCache(): void;
  /**
   * Whether index values (token ids, slots, block ids, positions, lengths) are range-checked, E_RANGE naming the op
   * and argument: always on CPU, where they are host-readable; on CUDA when SLUICE_DEVICE_CHECKS=1 at backend creation
   * (kernels record the first bad index; each such op then waits for its kernels). Unchecked, CUDA skips a bad index.
   */
  readonly indexChecks: boolean;

  // Events and graphs: ops are queued on the backend's compute stream in call order.
  createEvent(): number;
  recordEvent(event: number): void;
  /** Blocks the calling thread until the event has completed. */
  waitEvent(event: number): void;
  elapsedMs(start: number, end: number): number;
  destroyEvent(event: number): void;
  /** CUDA graphs: false on CPU, where beginCapture throws. */
  readonly supportsGraphs: boolean;
  /** Records every op until endCapture instead of running it; the tensors used must outlive the graph. */
  beginCapture(): void;
  endCapture(): number;
  replay(graph: number): void;
  destroyGraph(graph: number): void;

  // Ops
  /**
   * out[T,W] = table[ids[T], :W]: a row gather; W may be narrower than the table's rows (their first W entries).
   * An i32 table (out i32) gathers integer rows, e.g. a step's block tables from a persistent store.
   */
  embedding(out: Tensor, table: Tensor, ids: Tensor): void;
  /**
   * dst.flat[indices[i]] = src[i], all i32; indices and src [M], dst any shape. A negative index is skipped;
   * one >= dst.numel is E_RANGE where indexChecks, else skipped. With repeated indices CPU keeps the last, CUDA an
   * unspecified one.
   */
  scatter(dst: Tensor, indices: Tensor, src: Tensor): void;
  /**
   * dst = src (same dtype and numel), queued in stream order; either may be on the device or in pinned host
   * memory (emptyPinned). Into pinned memory it does not wait: record an event after it and waitEvent before
   * reading dst with toHost, so a step's results can be read while later steps run.
   */
  copy(dst: Tensor, src: Tensor): void;
  rmsNorm(out: Tensor, x: Tensor, weight: Tensor, eps: number): void;
  /** residual += x; x = rmsNorm(residual) * weight, in place (one pass over memory). */
  fusedAddRmsNorm(x: Tensor, residual: Tensor, weight: Tensor, eps: number): void;
  /** Neox (rotate-half) rotary embedding in place; cosSin[maxPos, headDim] holds cos in the first half, sin in the second. */
  rotaryEmbedding(positions: Tensor, q: Tensor, k: Tensor, headDim: number, cosSin: Tensor): void;
  /** out[M,N] = a[M,K] · w[N,K]ᵀ (+ bias[N]); w is stored as Hugging Face stores Linear weights. */
  gemm(out: Tensor, a: Tensor, w: Tensor, bias?: Tensor): void;
  /** out[T,F] = silu(x[T, :F]) * x[T, F:] */
  siluAndMul(out: Tensor, x: Tensor): void;
  /** Writes k/v[T, nKv*D] into caches [numBlocks, blockSize, nKv, D] at slots (block*blockSize + offset); slot < 0 skips. */
  reshapeAndCache(k: Tensor, v: Tensor, kCache: Tensor, vCache: Tensor, slotMapping: Tensor): void;
  /**
   * The attention input from one fused QKV GEMM: qkv [T, (nH + 2·nKv)·D] holds q, k, v columns in that order,
   * D = cosSin.shape[1], nKv from the caches [numBlocks, blockSize, nKv, D]. Writes q [T, nH·D] rotated, and
   * k rotated plus v into the caches at slotMapping (slot < 0: q only). Equals gemm ×3 → rotaryEmbedding →
   * reshapeAndCache bit for bit. q must not overlap qkv.
   */
  splitQkvRotaryCache(
    q: Tensor, qkv: Tensor, positions: Tensor, cosSin: Tensor,
    kCache: Tensor, vCache: Tensor, slotMapping: Tensor,
  ): void;
  /**
   * One query token per sequence over its paged context: out/q [B, nH*D], blockTables i32 [B, maxBlocks],
   * contextLens i32 [B]. maxContextLen, the batch's longest context (known on the host), sizes CUDA's split-K
   * partitions and workspace instead of the block tables' width; it must be <= maxBlocks·blockSize, and a
   * contextLens above it is E_RANGE where indexChecks (else CUDA clamps it: later tokens are ignored).
   * Under graph capture pass the bound the graph is captured for. Omitted: the block tables' capacity.
   */
  pagedAttentionDecode(
    out: Tensor, q: Tensor, kCache: Tensor, vCache: Tensor,
    blockTables: Tensor, contextLens: Tensor, scale: number, maxContextLen?: number,
  ): void;
  /**
   * Causal attention for packed variable-length queries (cuSeqlensQ i32 [B+1]) whose keys and values,
   * cached prefix and new tokens alike, are already in the paged cache; query i of sequence b sits at
   * position contextLens[b] - qLen_b + i.
   */
  prefillAttention(
    out: Tensor, q: Tensor, kCache: Tensor, vCache: Tensor,
    cuSeqlensQ: Tensor, blockTables: Tensor, contextLens: Tensor, scale: number,
  ): void;
  /** For each (src, dst) row of pairs i32 [P, 2], copies block src to dst in every cache given. */
  copyBlocks(caches: Tensor[], pairs: Tensor): void;
  /** Copies blocks between caches of different devices (device <-> pinned host); pairs i32 [P, 2] = (src, dst). */
  swapBlocks(src: Tensor, dst: Tensor, pairs: Tensor): void;
  /** Samples one token per row of logits [B, V] into out i32 [B], applying penalties, temperature, top-k/p, min-p. */
  sample(out: Tensor, logits: Tensor, params: SamplingTensors): void;
  /** Log-softmax of each row, then its k largest values (f32 [B,k]) and indices (i32 [B,k]), descending. */
  logSoftmaxTopK(values: Tensor, indices: Tensor, logits: Tensor, k: number): void;
  /** Log-probability of the given token per row: out f32 [B] = logSoftmax(logits)[b, tokens[b]]. */
  gatherLogProbs(out: Tensor, logits: Tensor, tokens: Tensor): void;
  argmax(out: Tensor, logits: Tensor): void;
  /**
   * Structured output's token mask, in place: logits[b, v] = -inf where bit v % 32 of bitmask[b, v / 32]
   * (i32 [B, ceil(V / 32)], XGrammar's layout) is 0; allowed logits are left unchanged.
   */
  applyTokenBitmask(logits: Tensor, bitmask: Tensor): void;
}
