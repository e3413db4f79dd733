import { cudaAvailable, getBackend, type Backend } from '@sluice/cuda-kernels';
import { resolveEngineConfig, resolveWeightDType, type EngineConfig, type EngineOptions, type StepShape } from '../config';
import { InvalidEngineOptionsError } from '../errors';
import type { ModelFiles } from '../model/model-files';
import { KvCache } from '../models/kv-cache';
import { freeLlamaWeights, loadLlamaWeights } from '../models/llama-weights';
import { EngineCore } from './engine-core';
import { measureDeviceMemory } from './forward-profile';
import { createModelRunner } from './model-runner';
import { Scheduler } from './scheduler';

/** Top logprobs a request may ask for per token (vLLM's default max_logprobs). */
export const MAX_LOGPROBS = 20;

/**
 * Loads the weights onto the asked-for backend, sizes the KV cache and builds the scheduler and the model
 * runner; throws InvalidEngineOptionsError (or ModelLoadError) and then holds nothing.
 */
export function createEngineCore(options: EngineOptions, files: ModelFiles): { core: EngineCore; config: EngineConfig } {
  if (options.device === 'cuda' && !cudaAvailable()) {
    throw new InvalidEngineOptionsError('device', "'cuda' was asked for, but this build has no CUDA backend or no GPU is visible");
  }
  const backend: Backend = getBackend(options.device ?? 'cpu');
  const weights = loadLlamaWeights(backend, files, resolveWeightDType(options, files.config.dtype));
  const built: Array<{ free(): void }> = [];
  try {
    // On CUDA without a given size, the cache gets what the weights and a profiled largest step leave.
    const measure = (shape: StepShape) => measureDeviceMemory(backend, files.config, weights, { ...shape, maxTopK: MAX_LOGPROBS });
    const config = resolveEngineConfig(options, files.config, weights.embed.dtype, measure);
    const c = files.config;
    const scheduler = new Scheduler({
      blockSize: config.blockSize, numBlocks: config.numBlocks, numHostBlocks: config.numHostBlocks,
      maxNumSeqs: config.maxNumSeqs, maxNumBatchedTokens: config.maxNumBatchedTokens, maxModelLen: config.maxModelLen,
      enablePrefixCaching: config.enablePrefixCaching, preemptionMode: config.preemptionMode,
      eosTokenIds: files.generation.eosTokenIds,
    });
    const kv = new KvCache(backend, {
      numLayers: c.numLayers, numBlocks: config.numBlocks, numHostBlocks: config.numHostBlocks, blockSize: config.blockSize,
      numKvHeads: c.numKvHeads, headDim: c.headDim, dtype: config.kvCacheDtype,
    });
    built.push(kv);
    const runner = createModelRunner(backend, c, weights, kv, { ...config, maxTopK: MAX_LOGPROBS });
    return { core: new EngineCore(scheduler, runner, kv, weights, backend, config.asyncScheduling), config };
  } catch (e) {
    // Options that only fail against this model (or an allocation failure) must not leak the weights.
    for (const b of built) b.free();
    freeLlamaWeights(weights);
    throw e;
  }
}
