import type { Backend } from '@sluice/cuda-kernels';
import type { DeviceMemoryUse } from '../kv-budget';
import type { ModelConfig } from '../model/config';
import { KvCache } from '../models/kv-cache';
import type { LlamaWeights } from '../models/llama-weights';
import { SamplingParams } from '../sampling-params';
import { createModelRunner, type ModelRunner, type StepLimits } from './model-runner';
import { SequenceGroup } from './sequence';
import type { ScheduledSeq } from './step';

/** What the device-memory KV budget needs, read once the weights are loaded: device figures and a profiled step. */
export function measureDeviceMemory(backend: Backend, config: ModelConfig, weights: LlamaWeights, limits: StepLimits): DeviceMemoryUse {
  backend.synchronize();
  const s = backend.memoryStats();
  const { peakActivationBytes } = profileForwardPass(backend, config, weights, limits);
  return { totalDeviceBytes: s.totalDeviceBytes, usedBytesAfterWeights: deviceUsed(s), peakActivationBytes };
}

/** One profiled step of the largest batch: its shape and the memory it took on top of what was in use before. */
export interface ForwardProfile {
  numSeqs: number;
  numTokens: number;
  /** Step buffers, sampler, op temporaries and memory outside the backend's pool, at their peak. */
  peakActivationBytes: number;
}

// Device-wide bytes in use; 0 on CPU, where the backend reports no device.
function deviceUsed(s: ReturnType<Backend['memoryStats']>): number {
  return s.totalDeviceBytes - s.freeDeviceBytes;
}

/**
 * Runs one prefill step of the largest batch the scheduler can build (maxNumBatchedTokens tokens spread
 * over as many sequences as maxNumSeqs allows), sampling every sequence, on step buffers and a KV cache of
 * its own that hold one sequence's blocks (every sequence writes the same blocks: the values are thrown away),
 * and reports the memory it took. Leaves no allocation behind but what the backend's pool keeps cached.
 */
export function profileForwardPass(backend: Backend, config: ModelConfig, weights: LlamaWeights, limits: StepLimits): ForwardProfile {
  const numSeqs = Math.min(limits.maxNumSeqs, limits.maxNumBatchedTokens);
  const numTokens = Math.min(limits.maxNumBatchedTokens, numSeqs * limits.maxModelLen);
  const lens = Array.from({ length: numSeqs }, (_, i) => Math.floor(numTokens / numSeqs) + (i < numTokens % numSeqs ? 1 : 0));
  const table = Array.from({ length: Math.ceil(lens[0] / limits.blockSize) }, (_, b) => b);
  const kv = new KvCache(backend, {
    numLayers: config.numLayers, numBlocks: table.length, numHostBlocks: 0, blockSize: limits.blockSize,
    numKvHeads: config.numKvHeads, headDim: config.headDim, dtype: weights.embed.dtype,
  });
  let runner: ModelRunner | undefined;
  try {
    backend.synchronize();
    const before = backend.memoryStats();
    runner = createModelRunner(backend, config, weights, kv, limits);
    const params = new SamplingParams({ temperature: 0, maxTokens: 1, logprobs: limits.maxTopK });
    const scheduled: ScheduledSeq[] = lens.map((len, i) => {
      const group = new SequenceGroup(`profile-${i}`, new Array<number>(len).fill(0), params);
      return { seq: group.seqs[0], numTokens: len, blockTable: table, sampleFor: [group.seqs[0]] };
    });
    runner.execute({ scheduled, numBatchedTokens: numTokens, blocksToSwapOut: [], blocksToSwapIn: [], blocksToCopy: [], preempted: [] });
    backend.synchronize();
    const after = backend.memoryStats();
    // Live buffers; pool growth from op temporaries freed again; allocations outside the pool seen only by the device.
    const peakActivationBytes = Math.max(
      after.allocatedBytes - before.allocatedBytes,
      after.allocatedBytes + after.cachedBytes - before.allocatedBytes - before.cachedBytes,
      deviceUsed(after) - deviceUsed(before),
    );
    return { numSeqs, numTokens, peakActivationBytes };
  } finally {
    runner?.free();
    kv.free();
  }
}

