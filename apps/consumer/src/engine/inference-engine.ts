import type { JobTimings } from '@sluice/engine';
import type { ChatMessage, Completion, CompletionOutput, SamplingParams } from '../jobs/schema';

/** One job as the engine sees it; `id` names it among in-flight jobs (the worker uses its (batch_id, job_id) key). */
export interface EngineJob {
  id: string;
  prompt?: string;
  messages?: ChatMessage[];
  sampling: SamplingParams;
  /** Lower runs first; default 0. */
  priority?: number;
}

export interface EngineResult {
  outputs: CompletionOutput[];
  usage: Completion['usage'];
  /** From submit, by @sluice/engine's jobTimings rule: the worker's wait before submit is added by afterWait. */
  timings: JobTimings;
}

/** What backpressure looks at: the engine's own queue and KV cache, not only the worker's in-flight count. */
export interface EngineLoad {
  running: number;
  waiting: number;
  /** Requests handed to the engine that its scheduler has not taken in yet. */
  queued: number;
  freeKvBlocks: number;
  totalKvBlocks: number;
  /** Fraction of KV blocks in use, 0..1. */
  kvUsage: number;
}

/**
 * The consumer's port to an inference engine. submit() resolves when the job is finished and rejects with
 * EngineError: 'ABORTED' after abort() or shutdown(), 'REJECTED' for a job this engine cannot serve,
 * InvalidJobError for a job no engine could run, 'ENGINE_FAILED' when the engine itself broke.
 */
export interface InferenceEngine {
  readonly model: string;
  submit(job: EngineJob): Promise<EngineResult>;
  abort(id: string): void;
  load(): EngineLoad;
  shutdown(): Promise<void>;
}
