import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { EngineOptions } from '../config';
import type { EngineStats } from '../frontend/llm-engine';
import { EngineError, RequestAbortedError } from '../errors';
import type { RequestOutput } from '../outputs';
import type { PromptInput } from '../prompt-input';
import { SamplingParams, type SamplingParamsInit } from '../sampling-params';
import { reviveError } from './error-transfer';
import type { FromWorker, ToWorker, WorkerInit } from './protocol';

export interface AsyncRequest {
  id: string;
  input: PromptInput;
  /** Built SamplingParams cross to the engine's thread as their checked values and are not built again there. */
  params?: SamplingParams | SamplingParamsInit;
  priority?: number;
}

/** The worker's latest snapshot plus `queued`: requests sent to the worker that it has not taken in yet. */
export type AsyncEngineStats = EngineStats & { queued: number };

interface Pending {
  onOutput(o: RequestOutput): void;
  onError(e: Error): void;
}

// Compiled next to this file; the package (and its tests) run from dist.
const WORKER_FILE = join(__dirname, 'worker.js');
// How long shutdown lets a step in progress finish before it terminates the thread.
const SHUTDOWN_GRACE_MS = 10_000;

/**
 * LLMEngine behind a worker_thread: the caller's event loop only posts messages, the worker runs the
 * step loop. Requests resolve with their final output or stream every step's output; errors arrive as
 * the same typed classes LLMEngine throws. A crashed worker rejects everything in flight, never hangs.
 */
export class AsyncEngine {
  private readonly pending = new Map<string, Pending>();
  private queued = 0;
  private failure: EngineError | undefined;
  private closing: Promise<void> | undefined;
  private exited = false;

  private constructor(
    private readonly worker: Worker,
    readonly modelName: string,
    private snapshot: EngineStats,
  ) {
    worker.on('message', (m: FromWorker) => this.onMessage(m));
    worker.on('error', (e) => this.fail(`engine worker crashed: ${e.message}`));
    worker.on('exit', (code) => {
      this.exited = true;
      this.fail(`engine worker exited unexpectedly (code ${code})`);
    });
    // An idle engine does not keep the process alive; a request in flight does.
    worker.unref();
  }

  /** Loads the model in a new worker; rejects with the typed load error (ModelLoadError, InvalidEngineOptionsError...). */
  static start(options: EngineOptions): Promise<AsyncEngine> {
    return new Promise((resolve, reject) => {
      const init: WorkerInit = { options };
      const worker = new Worker(WORKER_FILE, { workerData: init });
      const settle = (result: () => void) => {
        worker.off('message', onMessage).off('error', onError).off('exit', onExit);
        result();
      };
      const onMessage = (m: FromWorker) => {
        if (m.type === 'ready') settle(() => resolve(new AsyncEngine(worker, m.modelName, m.stats)));
        else if (m.type === 'loadFailed') settle(() => reject(reviveError(m.error)));
      };
      const onError = (e: Error) => settle(() => reject(new EngineError('INTERNAL', `engine worker failed while loading ${options.model}: ${e.message}`)));
      const onExit = (code: number) => settle(() => reject(new EngineError('INTERNAL', `engine worker exited while loading ${options.model} (code ${code})`)));
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    });
  }

  /** Resolves with the request's final output. */
  add(request: AsyncRequest): Promise<RequestOutput> {
    return new Promise((resolve, reject) => this.submit(request, false, { onOutput: (o) => o.finished && resolve(o), onError: reject }));
  }

  /** Every step's output for the request (CompletionOutput.delta: text that became final since the previous one); ends after the finished one. Breaking out of the loop aborts the request. */
  async *stream(request: AsyncRequest): AsyncIterable<RequestOutput> {
    const queue: RequestOutput[] = [];
    let error: Error | undefined;
    let settled = false;
    let wake: (() => void) | undefined;
    this.submit(request, true, {
      onOutput: (o) => {
        queue.push(o);
        settled ||= o.finished;
        wake?.();
      },
      onError: (e) => {
        error = e;
        settled = true;
        wake?.();
      },
    });
    try {
      for (;;) {
        for (let o = queue.shift(); o; o = queue.shift()) {
          yield o;
          if (o.finished) return;
        }
        if (error) throw error;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    } finally {
      if (!settled) this.abort(request.id);
    }
  }

  /** Aborts a request in flight: it rejects with RequestAbortedError once the worker has freed its blocks. */
  abort(id: string): void {
    if (this.pending.has(id) && !this.failure && !this.closing) this.post({ type: 'abort', id });
  }

  stats(): AsyncEngineStats {
    return { ...this.snapshot, queued: this.queued };
  }

  /** Rejects what is in flight with RequestAbortedError, closes the engine and ends the worker. Idempotent. */
  shutdown(): Promise<void> {
    this.closing ??= this.close();
    return this.closing;
  }

  private async close(): Promise<void> {
    for (const id of [...this.pending.keys()]) this.settle(id)?.onError(new RequestAbortedError(id));
    this.queued = 0;
    if (this.exited) return;
    const exited = new Promise<void>((r) => this.worker.once('exit', () => r()));
    this.worker.postMessage({ type: 'shutdown' } satisfies ToWorker);
    const timer = setTimeout(() => void this.worker.terminate(), SHUTDOWN_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }

  private submit(request: AsyncRequest, stream: boolean, p: Pending): void {
    const { id } = request;
    if (this.failure) return p.onError(new EngineError('INTERNAL', `request ${id}: ${this.failure.message}`));
    if (this.closing) return p.onError(new RequestAbortedError(id));
    if (this.pending.has(id)) return p.onError(new EngineError('DUPLICATE_REQUEST', `request ${id} is already in flight`));
    const params = request.params instanceof SamplingParams ? { checked: request.params.toChecked() } : { params: request.params };
    const message: ToWorker = { type: 'add', id, input: request.input, ...params, priority: request.priority, stream };
    try {
      this.worker.postMessage(message);
    } catch (e) {
      return p.onError(new EngineError('INVALID_REQUEST', `request ${id} cannot be sent to the engine: ${(e as Error).message}`));
    }
    this.pending.set(id, p);
    this.queued++;
    this.worker.ref();
  }

  private settle(id: string): Pending | undefined {
    const p = this.pending.get(id);
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker.unref();
    return p;
  }

  private onMessage(m: FromWorker): void {
    switch (m.type) {
      case 'accepted':
        this.queued--;
        this.snapshot = m.stats;
        return;
      case 'rejected':
        this.queued--;
        this.snapshot = m.stats;
        this.settle(m.id)?.onError(reviveError(m.error));
        return;
      case 'outputs':
        this.snapshot = m.stats;
        for (const o of m.outputs) {
          const p = o.finished ? this.settle(o.requestId) : this.pending.get(o.requestId);
          p?.onOutput(o);
        }
        return;
      case 'aborted':
        this.snapshot = m.stats;
        this.settle(m.id)?.onError(new RequestAbortedError(m.id));
        return;
      case 'failed':
        this.snapshot = m.stats;
        this.settle(m.id)?.onError(reviveError(m.error));
        return;
      case 'fatal':
        this.fail(`engine step failed in the worker: ${m.error.name}: ${m.error.message}`);
        return;
      case 'ready':
      case 'loadFailed':
        return;
    }
  }

  private post(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  // The worker is gone or ending itself (after 'fatal'): everything in flight fails now, and so does every later request.
  private fail(message: string): void {
    if (this.closing || this.failure) return;
    this.failure = new EngineError('INTERNAL', message);
    for (const id of [...this.pending.keys()]) this.settle(id)?.onError(new EngineError('INTERNAL', `request ${id}: ${message}`));
    this.queued = 0;
  }
}
