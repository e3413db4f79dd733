// The real engine for generate: @sluice/engine's AsyncEngine, its step loop in a worker thread.
import { AsyncEngine, type EngineOptions } from '@sluice/engine';
import type { StartEngine } from './generate';

export const startAsyncEngine: StartEngine = (s) => {
  const options: EngineOptions = { model: s.model, device: s.device, dtype: s.dtype, kvCacheDtype: s.kvCacheDtype };
  // Unset flags leave the engine's own defaults.
  if (s.maxNumSeqs !== undefined) options.maxNumSeqs = s.maxNumSeqs;
  if (s.kvCacheBytes !== undefined) options.kvCacheBytes = s.kvCacheBytes;
  if (s.maxModelLen !== undefined) options.maxModelLen = s.maxModelLen;
  if (s.grammarCompileTimeoutMs !== undefined) options.grammarCompileTimeoutMs = s.grammarCompileTimeoutMs;
  if (s.grammarMaskTimeoutMs !== undefined) options.grammarMaskTimeoutMs = s.grammarMaskTimeoutMs;
  if (s.grammarThreads !== undefined) options.grammarThreads = s.grammarThreads;
  return AsyncEngine.start(options);
};
