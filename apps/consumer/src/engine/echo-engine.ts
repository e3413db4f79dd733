import { EngineError } from '../errors';
import type { EngineJob, EngineLoad, EngineResult, InferenceEngine } from './inference-engine';

export interface EchoEngineOptions {
  /** Simulated run time per job; 0 answers on the next microtask. */
  delayMs?: number;
  /** Chaos tests: a job with exactly this prompt breaks the engine, as a crashed engine thread would. */
  breakOn?: string;
}

function promptText(job: EngineJob): string {
  return job.prompt ?? (job.messages ?? []).map((m) => `${m.role}: ${m.content}`).join('\n');
}

const countTokens = (text: string) => (text.length === 0 ? 0 : text.split(/\s+/).filter(Boolean).length);

/**
 * Deterministic stand-in engine: every output echoes the prompt. For the pipeline bench and the delivery tests,
 * where the engine must never be the bottleneck and results must be predictable.
 */
export class EchoEngine implements InferenceEngine {
  readonly model = 'echo';
  private readonly pending = new Map<string, { timer?: NodeJS.Timeout; reject: (e: Error) => void }>();
  private closed = false;
  private broken: EngineError | undefined;

  constructor(private readonly options: EchoEngineOptions = {}) {}

  submit(job: EngineJob): Promise<EngineResult> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.closed) return Promise.reject(new EngineError('SHUT_DOWN', 'the echo engine is shut down'));
    if (this.options.breakOn !== undefined && job.prompt === this.options.breakOn) return Promise.reject(this.break(job.id));
    if (this.pending.has(job.id)) return Promise.reject(new EngineError('REJECTED', `job ${job.id} is already running`));
    const text = promptText(job);
    const n = job.sampling.n ?? 1;
    const tokens = countTokens(text);
    const result: EngineResult = {
      outputs: Array.from({ length: n }, (_, index) => ({ index, text, finish_reason: 'stop' as const, cumulative_logprob: 0 })),
      // The echo engine caches nothing.
      usage: { prompt_tokens: tokens, completion_tokens: tokens * n, cached_tokens: 0 },
      timings: { queued_ms: 0, first_token_ms: this.options.delayMs ?? 0, total_ms: this.options.delayMs ?? 0 },
    };
    const delay = this.options.delayMs ?? 0;
    if (delay <= 0) return Promise.resolve(result);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(job.id);
        resolve(result);
      }, delay);
      this.pending.set(job.id, { timer, reject });
    });
  }

  // Every job in it fails, and so does every later one: what the worker sees when an engine thread dies.
  private break(id: string): EngineError {
    this.broken = new EngineError('ENGINE_FAILED', `the echo engine broke on job ${id} (--echo-break-on)`);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(this.broken);
    }
    this.pending.clear();
    return this.broken;
  }

  abort(id: string): void {
    const p = this.pending.get(id);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(id);
    p.reject(new EngineError('ABORTED', `job ${id} was aborted`));
  }

  load(): EngineLoad {
    return { running: this.pending.size, waiting: 0, queued: 0, freeKvBlocks: 0, totalKvBlocks: 0, kvUsage: 0 };
  }

  async shutdown(): Promise<void> {
    this.closed = true;
    for (const id of [...this.pending.keys()]) this.abort(id);
  }
}
