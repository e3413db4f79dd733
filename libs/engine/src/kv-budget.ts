import { InvalidEngineOptionsError } from './errors';

/** What a device-memory budget is computed from: the device's size and what the engine uses besides the cache. */
export interface DeviceMemoryUse {
  totalDeviceBytes: number;
  /** Device memory in use once the weights are loaded (weights, runtime context, other processes). */
  usedBytesAfterWeights: number;
  /** What one step of the largest batch takes on top of that: activation buffers, sampler, workspaces. */
  peakActivationBytes: number;
}

export interface BlocksKvBudget { source: 'blocks'; numBlocks: number; blockBytes: number }
export interface BytesKvBudget { source: 'bytes'; numBlocks: number; blockBytes: number; kvCacheBytes: number }
export interface DeviceMemoryKvBudget extends DeviceMemoryUse {
  source: 'device-memory';
  numBlocks: number;
  blockBytes: number;
  kvCacheBytes: number;
  gpuMemoryUtilization: number;
}

/** How the KV cache's block count was derived, with the numbers it came from. */
export type KvBudget = BlocksKvBudget | BytesKvBudget | DeviceMemoryKvBudget;

/** A block count given outright (numBlocks). */
export function kvBudgetFromBlocks(numBlocks: number, blockBytes: number): BlocksKvBudget {
  return { source: 'blocks', numBlocks, blockBytes };
}

/** As many whole blocks as kvCacheBytes holds; throws when that is none. */
export function kvBudgetFromBytes(kvCacheBytes: number, blockBytes: number): BytesKvBudget {
  const numBlocks = Math.floor(kvCacheBytes / blockBytes);
  if (numBlocks < 1) {
    throw new InvalidEngineOptionsError('kvCacheBytes', `${kvCacheBytes} bytes hold no KV block (one block takes ${blockBytes} bytes)`);
  }
  return { source: 'bytes', numBlocks, blockBytes, kvCacheBytes };
}

export interface DeviceBudgetInput extends DeviceMemoryUse {
  gpuMemoryUtilization: number;
  blockBytes: number;
  blockSize: number;
  maxModelLen: number;
}

/**
 * vLLM's rule: the cache gets utilization x device memory minus what the weights and the peak of the
 * largest step take; throws InvalidEngineOptionsError naming the numbers when that cannot hold one
 * sequence of maxModelLen tokens.
 */
export function kvBudgetFromDeviceMemory(i: DeviceBudgetInput): DeviceMemoryKvBudget {
  const fail = (message: string): never => {
    throw new InvalidEngineOptionsError('gpuMemoryUtilization', message);
  };
  if (!(i.totalDeviceBytes > 0)) {
    fail(`the backend reports ${i.totalDeviceBytes} bytes of device memory, so no KV budget can be derived from it; set kvCacheBytes or numBlocks`);
  }
  const allowed = Math.floor(i.gpuMemoryUtilization * i.totalDeviceBytes);
  const kvCacheBytes = allowed - i.usedBytesAfterWeights - i.peakActivationBytes;
  const used = `${i.usedBytesAfterWeights} bytes in use after loading the weights and ${i.peakActivationBytes} bytes of peak activations (profiled forward pass)`;
  const share = `${i.gpuMemoryUtilization} x ${i.totalDeviceBytes} device bytes = ${allowed}`;
  if (kvCacheBytes <= 0) {
    fail(`${share} leaves ${kvCacheBytes} bytes for the KV cache after ${used}; raise gpuMemoryUtilization, lower maxNumBatchedTokens or maxNumSeqs, or set kvCacheBytes`);
  }
  const numBlocks = Math.floor(kvCacheBytes / i.blockBytes);
  const needed = Math.ceil(i.maxModelLen / i.blockSize);
  if (numBlocks < needed) {
    fail(
      `${share} leaves ${kvCacheBytes} bytes for the KV cache after ${used}: ${numBlocks} blocks of ${i.blockBytes} bytes, ` +
        `fewer than the ${needed} one sequence of maxModelLen ${i.maxModelLen} tokens needs; raise gpuMemoryUtilization or lower maxModelLen`,
    );
  }
  return {
    source: 'device-memory', numBlocks, blockBytes: i.blockBytes, kvCacheBytes, gpuMemoryUtilization: i.gpuMemoryUtilization,
    totalDeviceBytes: i.totalDeviceBytes, usedBytesAfterWeights: i.usedBytesAfterWeights, peakActivationBytes: i.peakActivationBytes,
  };
}
