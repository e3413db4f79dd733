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

/**
 * The two largest steps, profiled one after the other: their shapes and the memory they took together on top of
 * what was in use before.
 */
export interface ForwardProfile {
  /** The prefill step: numTokens tokens over numSeqs sequences. */
  numSeqs: number;
  numTokens: number;
  /** The decode step: one token for each of decodeSeqs sequences, each with maxModelLen tokens of context. */
  decodeSeqs: number;
  /**
   * Step buffers, sampler, op temporaries and memory outside the backend's pool (CUDA's split-K attention
   * workspace, which only the decode step sizes, and the sampler's), at their peak over both steps.
   */
  peakActivationBytes: number;
}

// Device-wide bytes in use; 0 on CPU, where the backend reports no device.
function deviceUsed(s: ReturnType<Backend['memoryStats']>): number {
  return s.totalDeviceBytes - s.freeDeviceBytes;
}

/**
 * Runs the two steps whose memory can peak, on step buffers and a KV cache of their own, and reports the memory
 * they took: one prefill step of the largest batch the scheduler can build (maxNumBatchedTokens tokens spread over
 * as many sequences as maxNumSeqs allows), then one decode step of as many sequences at maxModelLen tokens of
 * context (the split-K attention workspace grows with that), sampling every sequence with top logprobs. The cache
 * holds one prefill sequence's blocks; every sequence writes the same blocks and decode tables point at block 0
 * throughout (the values are thrown away). Leaves no allocation behind but what the backend keeps cached.
 */
export function profileForwardPass(backend: Backend, config: ModelConfig, weights: LlamaWeights, limits: StepLimits): ForwardProfile {
  const numSeqs = Math.min(limits.maxNumSeqs, limits.maxNumBatchedTokens);
  const numTokens = Math.min(limits.maxNumBatchedTokens, numSeqs * limits.maxModelLen);
  const lens = Array.from({ length: numSeqs }, (_, i) => Math.floor(numTokens / numSeqs) + (i < numTokens % numSeqs ? 1 : 0));
  const table = Array.from({ length: Math.ceil(lens[0] / limits.blockSize) }, (_, b) => b);
  const decodeSeqs = Math.min(limits.maxNumSeqs, limits.maxNumBatchedTokens);
  const decodeTable = new Array<number>(Math.ceil(limits.maxModelLen / limits.blockSize)).fill(0);
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
    const step = (scheduled: ScheduledSeq[]) => runner!.execute({
      scheduled, numBatchedTokens: scheduled.reduce((n, s) => n + s.numTokens, 0), blocksToSwapOut: [], blocksToSwapIn: [], blocksToCopy: [], preempted: [],
    });
    step(lens.map((len, i) => {
      const group = new SequenceGroup(`profile-${i}`, new Array<number>(len).fill(0), params);
      return { seq: group.seqs[0], numTokens: len, blockTable: table, sampleFor: [group.seqs[0]] };
    }));
    // The profile's sequences never run (status 'waiting'), so the decode step's sequences get fresh batch rows.
    step(Array.from({ length: decodeSeqs }, (_, i) => {
      const seq = new SequenceGroup(`profile-decode-${i}`, new Array<number>(limits.maxModelLen).fill(0), params).seqs[0];
      seq.numComputedTokens = limits.maxModelLen - 1;
      return { seq, numTokens: 1, blockTable: decodeTable, sampleFor: [seq] };
    }));
    backend.synchronize();
    const after = backend.memoryStats();
    // Live buffers; pool growth from op temporaries freed again; allocations outside the pool seen only by the device.
    const peakActivationBytes = Math.max(
      after.allocatedBytes - before.allocatedBytes,
      after.allocatedBytes + after.cachedBytes - before.allocatedBytes - before.cachedBytes,
      deviceUsed(after) - deviceUsed(before),
    );
    return { numSeqs, numTokens, decodeSeqs, peakActivationBytes };
  } finally {
    runner?.free();
    kv.free();
  }
}

