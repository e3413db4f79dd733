import type { EngineOptions } from '../config';
import type { PromptInput } from '../prompt-input';
import type { EngineStats } from '../frontend/llm-engine';
import type { RequestOutput } from '../outputs';
import type { CheckedSamplingParams, SamplingParamsInit } from '../sampling-params';
import type { SerializedError } from './error-transfer';

/** What the worker is started with (its workerData). */
export interface WorkerInit {
  options: EngineOptions;
}

/** Main thread → worker. */
export type ToWorker =
  | {
      type: 'add';
      id: string;
      input: PromptInput;
      params?: SamplingParamsInit;
      /** Parameters built and checked on the caller's side (instead of params). */
      checked?: CheckedSamplingParams;
      priority?: number;
      /** Whether every step's output is wanted, or only the final one. */
      stream: boolean;
    }
  | { type: 'abort'; id: string }
  | { type: 'shutdown' };

/** Worker → main thread. Every message that changes what the engine holds carries a fresh stats snapshot. */
export type FromWorker =
  | { type: 'ready'; modelName: string; stats: EngineStats }
  | { type: 'loadFailed'; error: SerializedError }
  | { type: 'accepted'; id: string; stats: EngineStats }
  | { type: 'rejected'; id: string; error: SerializedError; stats: EngineStats }
  | { type: 'outputs'; outputs: RequestOutput[]; stats: EngineStats }
  /** An accepted request that failed while running (its grammar's mask failed or ran over its limit). */
  | { type: 'failed'; id: string; error: SerializedError; stats: EngineStats }
  | { type: 'aborted'; id: string; stats: EngineStats }
  | { type: 'fatal'; error: SerializedError };
