import { availableParallelism } from 'node:os';
import { cpuKernelPath, type CpuKernelPath, type DeviceKind, type DType } from '@sluice/cuda-kernels';
import { EngineInvariantError, InvalidEngineOptionsError } from './errors';
import { kvBudgetFromBlocks, kvBudgetFromBytes, kvBudgetFromDeviceMemory, type DeviceMemoryUse, type KvBudget } from './kv-budget';
import type { CheckpointDType, ModelConfig } from './model/config';
import { kvBlockBytes } from './models/kv-cache';

/** recompute: drop a preempted sequence's KV and prefill it again later; swap: move its KV to host blocks. */
export type PreemptionMode = 'recompute' | 'swap';

/** How long one structured-output constraint may compile before its request fails (grammarCompileTimeoutMs). */
export const DEFAULT_GRAMMAR_COMPILE_TIMEOUT_MS = 10_000;
/**
 * How long the grammar thread may take over one sequence's next-token mask before its request fails
 * (grammarMaskTimeoutMs): a 128k-token vocabulary's JSON masks take about 5 ms; an ambiguous grammar's grow with the text.
 */
export const DEFAULT_GRAMMAR_MASK_TIMEOUT_MS = 500;

/** How an engine is built: the model directory and the cache and batching limits. */
export interface EngineOptions {
  /** A local Hugging Face model directory. */
  model: string;
  /** Default 'cpu'. */
  device?: DeviceKind;
  /** Tokens per KV block; default 16. */
  blockSize?: number;
  /** Memory for the KV cache; the number of blocks is derived from it. Default on CPU 256 MiB; on CUDA see gpuMemoryUtilization. */
  kvCacheBytes?: number;
  /** Overrides kvCacheBytes (tests force preemption with a tiny cache). */
  numBlocks?: number;
  /**
   * On CUDA without kvCacheBytes or numBlocks: the share of device memory, in (0, 1], that weights, the peak of a
   * profiled largest step and the KV cache may take together; the cache gets the rest. Default 0.9. Unused otherwise.
   */
  gpuMemoryUtilization?: number;
  /** Host memory for swapped-out blocks; default 64 MiB with preemptionMode 'swap', else 0. */
  swapSpaceBytes?: number;
  /** Sequences per step; default 64. */
  maxNumSeqs?: number;
  /** Tokens per step; default 2048. */
  maxNumBatchedTokens?: number;
  /** Default: config.json's max_position_embeddings. */
  maxModelLen?: number;
  /** Default true. */
  enablePrefixCaching?: boolean;
  /** Default 'recompute'. */
  preemptionMode?: PreemptionMode;
  /**
   * vLLM's async scheduling: step k + 1 is scheduled and launched while step k's kernels run, whenever no
   * running request needs step k's tokens on the host first (beam search, penalties). Default: on for CUDA,
   * off for CPU (whose ops run synchronously, so there is nothing to overlap).
   */
  asyncScheduling?: boolean;
  /**
   * The weights' dtype, named as vLLM names it; default 'auto': the checkpoint's (config.json torch_dtype). The cpu
   * backend runs float32 and bfloat16 weights (f32 activations and accumulation; auto runs a float16 checkpoint as
   * float32); cuda runs a checkpoint in its own dtype only.
   */
  dtype?: ModelDType;
  /**
   * How long one structured-output constraint may compile (on the grammar thread, never the engine's) before
   * its request fails with INVALID_STRUCTURED_OUTPUT; default 10,000 ms.
   */
  grammarCompileTimeoutMs?: number;
  /**
   * How long the grammar thread may take over one sequence's next-token mask (advancing its matcher, then the
   * mask) before its request fails with INVALID_STRUCTURED_OUTPUT; default 500 ms. The masks of an ambiguous
   * grammar (EBNF, nested regex repeats) cost more with every token: without a bound one request slows every step.
   */
  grammarMaskTimeoutMs?: number;
  /**
   * Grammar threads: each compiles every constraint and fills the masks of its share of the constrained
   * sequences, side by side. Default 1 on cpu (the kernels use the cores), and on cuda half the cores, 1 to 4.
   */
  grammarThreads?: number;
  /**
   * The KV cache's dtype, named as vLLM's kv_cache_dtype: 'auto' (default) stores keys and values in the compute
   * dtype (f32 on cpu); 'bfloat16' halves the cache's bytes (twice the blocks in the same budget). The cpu backend
   * rounds f32 keys and values to bf16 when it writes them and attends in f32; cuda stores the cache in its compute
   * dtype only, so there 'bfloat16' needs a bf16 checkpoint.
   */
  kvCacheDtype?: KvCacheDType;
}

export type KvCacheDType = 'auto' | 'bfloat16';
const KV_CACHE_DTYPES: readonly KvCacheDType[] = ['auto', 'bfloat16'];

export type ModelDType = 'auto' | 'float32' | 'bfloat16' | 'float16';
const DTYPE_OF: Record<Exclude<ModelDType, 'auto'>, CheckpointDType> = { float32: 'f32', bfloat16: 'bf16', float16: 'f16' };

/** EngineOptions with every default applied and the cache sized in blocks. */
export interface EngineConfig {
  model: string;
  device: DeviceKind;
  blockSize: number;
  numBlocks: number;
  numHostBlocks: number;
  maxNumSeqs: number;
  maxNumBatchedTokens: number;
  maxModelLen: number;
  enablePrefixCaching: boolean;
  preemptionMode: PreemptionMode;
  asyncScheduling: boolean;
  /** How numBlocks was derived and from which numbers. */
  kvBudget: KvBudget;
  /** The GEMM weights' dtype (resolveWeightDType). */
  dtype: DType;
  /** The KV cache's dtype (resolveKvCacheDType). */
  kvCacheDtype: DType;
  /** On the cpu backend: the kernel set chosen at load (CPUID or SLUICE_CPU_ISA). */
  cpuKernels?: CpuKernelPath;
  grammarCompileTimeoutMs: number;
  grammarMaskTimeoutMs: number;
  grammarThreads: number;
}

/** The limits a profiled step is shaped by, handed to the device-memory measurement. */
export type StepShape = Pick<EngineConfig, 'blockSize' | 'maxNumSeqs' | 'maxNumBatchedTokens' | 'maxModelLen'>;

/** Measures device memory after the weights and during one step of the largest batch (on the engine's backend). */
export type MeasureDeviceMemory = (shape: StepShape) => DeviceMemoryUse;

const MIB = 1024 * 1024;
const KEYS = new Set([
  'model', 'device', 'blockSize', 'kvCacheBytes', 'numBlocks', 'swapSpaceBytes', 'maxNumSeqs',
  'maxNumBatchedTokens', 'maxModelLen', 'enablePrefixCaching', 'preemptionMode', 'gpuMemoryUtilization', 'asyncScheduling', 'dtype',
  'grammarCompileTimeoutMs', 'grammarMaskTimeoutMs', 'grammarThreads',
  'kvCacheDtype',
]);

// On cuda the host's cores are free while kernels run; on cpu the kernels use them.
function defaultGrammarThreads(device: 'cpu' | 'cuda'): number {
  return device === 'cuda' ? Math.min(4, Math.max(1, Math.floor(availableParallelism() / 2))) : 1;
}

function fail(option: string, message: string): never {
  throw new InvalidEngineOptionsError(option, message);
}

function posInt(o: EngineOptions, key: keyof EngineOptions, fallback: number): number {
  const v = o[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) fail(key, `must be an integer >= 1, got ${JSON.stringify(v)}`);
  return v;
}

/** Checks what can be checked before the model is read: types, ranges, unknown names. */
export function validateEngineOptions(o: EngineOptions): void {
  if (typeof o !== 'object' || o === null) fail('options', `must be an object, got ${JSON.stringify(o)}`);
  for (const k of Object.keys(o)) if (!KEYS.has(k)) fail(k, `is not an engine option (known: ${[...KEYS].join(', ')})`);
  if (typeof o.model !== 'string' || o.model.length === 0) fail('model', `must be a model directory path, got ${JSON.stringify(o.model)}`);
  if (o.device !== undefined && o.device !== 'cpu' && o.device !== 'cuda') fail('device', `must be 'cpu' or 'cuda', got ${JSON.stringify(o.device)}`);
  for (const k of ['blockSize', 'kvCacheBytes', 'numBlocks', 'maxNumSeqs', 'maxNumBatchedTokens', 'maxModelLen', 'grammarCompileTimeoutMs', 'grammarMaskTimeoutMs', 'grammarThreads'] as const) {
    if (o[k] !== undefined) posInt(o, k, 1);
  }
  if (o.grammarThreads !== undefined && o.grammarThreads > 64) fail('grammarThreads', `must be at most 64, got ${o.grammarThreads}`);
  if (o.swapSpaceBytes !== undefined && (!Number.isSafeInteger(o.swapSpaceBytes) || o.swapSpaceBytes < 0)) {
    fail('swapSpaceBytes', `must be an integer >= 0, got ${JSON.stringify(o.swapSpaceBytes)}`);
  }
  const u = o.gpuMemoryUtilization;
  if (u !== undefined && (typeof u !== 'number' || !(u > 0 && u <= 1))) {
    fail('gpuMemoryUtilization', `must be a number in (0, 1], got ${JSON.stringify(u)}`);
  }
  for (const k of ['enablePrefixCaching', 'asyncScheduling'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') fail(k, `must be true or false, got ${JSON.stringify(o[k])}`);
  }
  if (o.preemptionMode !== undefined && o.preemptionMode !== 'recompute' && o.preemptionMode !== 'swap') {
    fail('preemptionMode', `must be 'recompute' or 'swap', got ${JSON.stringify(o.preemptionMode)}`);
  }
  if (o.dtype !== undefined && o.dtype !== 'auto' && !Object.keys(DTYPE_OF).includes(o.dtype)) {
    fail('dtype', `must be 'auto', 'float32', 'bfloat16' or 'float16', got ${JSON.stringify(o.dtype)}`);
  }
  if (o.kvCacheDtype !== undefined && !KV_CACHE_DTYPES.includes(o.kvCacheDtype)) {
    fail('kvCacheDtype', `must be 'auto' (the compute dtype) or 'bfloat16', got ${JSON.stringify(o.kvCacheDtype)}`);
  }
}

/** The GEMM weights' dtype for this device and checkpoint (see EngineOptions.dtype); throws naming 'dtype'. */
export function resolveWeightDType(o: EngineOptions, checkpoint: CheckpointDType): DType {
  const asked = o.dtype ?? 'auto';
  if ((o.device ?? 'cpu') === 'cpu') {
    if (asked === 'float16') fail('dtype', "'float16' weights are not run by the cpu backend; use 'float32', 'bfloat16' or 'auto'");
    return asked === 'auto' ? (checkpoint === 'bf16' ? 'bf16' : 'f32') : DTYPE_OF[asked];
  }
  if (asked !== 'auto' && DTYPE_OF[asked] !== checkpoint) {
    fail('dtype', `'${asked}' on cuda needs a checkpoint stored in it; this one is ${checkpoint} (cuda runs a checkpoint in its own dtype)`);
  }
  return checkpoint;
}

/** The KV cache's dtype for this device and compute dtype (see EngineOptions.kvCacheDtype); throws naming 'kvCacheDtype'. */
export function resolveKvCacheDType(o: EngineOptions, compute: DType): DType {
  if ((o.kvCacheDtype ?? 'auto') === 'auto') return compute;
  if ((o.device ?? 'cpu') === 'cpu' || compute === 'bf16') return 'bf16';
  return fail('kvCacheDtype', `'bfloat16' on cuda needs bfloat16 compute (a bf16 checkpoint); this run computes in ${compute}, and the cuda kernels keep the KV cache in the compute dtype`);
}

/** Where the KV budget comes from: numBlocks, then kvCacheBytes, then on CUDA device memory, else the CPU default bytes. */
export function kvBudgetSource(o: EngineOptions): KvBudget['source'] {
  if (o.numBlocks !== undefined) return 'blocks';
  if (o.kvCacheBytes !== undefined || (o.device ?? 'cpu') !== 'cuda') return 'bytes';
  return 'device-memory';
}

/**
 * Applies defaults and sizes the cache for this model; throws InvalidEngineOptionsError naming the option.
 * measure is called (last, as it runs the model) only when the budget comes from device memory.
 */
export function resolveEngineConfig(o: EngineOptions, model: ModelConfig, compute: DType, measure?: MeasureDeviceMemory): EngineConfig {
  validateEngineOptions(o);
  const kvDtype = resolveKvCacheDType(o, compute);
  const blockSize = posInt(o, 'blockSize', 16);
  const maxModelLen = posInt(o, 'maxModelLen', model.maxPositionEmbeddings);
  if (maxModelLen > model.maxPositionEmbeddings) {
    fail('maxModelLen', `${maxModelLen} exceeds the model's max_position_embeddings ${model.maxPositionEmbeddings}`);
  }
  const perBlock = kvBlockBytes({ numLayers: model.numLayers, blockSize, numKvHeads: model.numKvHeads, headDim: model.headDim, dtype: kvDtype });
  const preemptionMode = o.preemptionMode ?? 'recompute';
  const swapBytes = o.swapSpaceBytes ?? (preemptionMode === 'swap' ? 64 * MIB : 0);
  const numHostBlocks = Math.floor(swapBytes / perBlock);
  if (preemptionMode === 'swap' && numHostBlocks < 1) {
    fail('swapSpaceBytes', `preemptionMode 'swap' needs room for at least one block of ${perBlock} bytes, got ${swapBytes}`);
  }
  const shape: StepShape = { blockSize, maxNumSeqs: posInt(o, 'maxNumSeqs', 64), maxNumBatchedTokens: posInt(o, 'maxNumBatchedTokens', 2048), maxModelLen };
  const source = kvBudgetSource(o);
  let kvBudget: KvBudget;
  if (source === 'blocks') kvBudget = kvBudgetFromBlocks(posInt(o, 'numBlocks', 1), perBlock);
  else if (source === 'bytes') kvBudget = kvBudgetFromBytes(posInt(o, 'kvCacheBytes', 256 * MIB), perBlock);
  else {
    if (!measure) throw new EngineInvariantError('a device-memory KV budget was asked for without a way to measure device memory');
    kvBudget = kvBudgetFromDeviceMemory({ ...measure(shape), gpuMemoryUtilization: o.gpuMemoryUtilization ?? 0.9, blockBytes: perBlock, blockSize, maxModelLen });
  }
  return {
    model: o.model,
    device: o.device ?? 'cpu',
    ...shape,
    numBlocks: kvBudget.numBlocks,
    numHostBlocks,
    enablePrefixCaching: o.enablePrefixCaching ?? true,
    preemptionMode,
    asyncScheduling: o.asyncScheduling ?? (o.device ?? 'cpu') === 'cuda',
    kvBudget,
    dtype: resolveWeightDType(o, model.dtype),
    kvCacheDtype: kvDtype,
    cpuKernels: (o.device ?? 'cpu') === 'cpu' ? cpuKernelPath() : undefined,
    grammarCompileTimeoutMs: posInt(o, 'grammarCompileTimeoutMs', DEFAULT_GRAMMAR_COMPILE_TIMEOUT_MS),
    grammarMaskTimeoutMs: posInt(o, 'grammarMaskTimeoutMs', DEFAULT_GRAMMAR_MASK_TIMEOUT_MS),
    grammarThreads: posInt(o, 'grammarThreads', defaultGrammarThreads(o.device ?? 'cpu')),
  };
}
