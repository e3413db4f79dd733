// One grammar thread of the pool, as the engine thread holds it: started, messaged, told apart from its successor
// after a restart, stopped.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { FromGrammarThread, GrammarThreadInit, ToGrammarThread } from './grammar-protocol';

// The thread is a compiled file: beside this one in dist, or (this file run from src by ts-jest) in the built package.
const THREAD_FILE = [join(__dirname, 'grammar-thread.js'), join(__dirname, '..', '..', 'dist', 'structured', 'grammar-thread.js')].find(existsSync);

export interface GrammarWorkerEvents {
  onMessage(index: number, m: FromGrammarThread): void;
  /** The thread failed or exited on its own. */
  onLost(index: number, why: string): void;
}

export class GrammarWorker {
  private thread: Worker | undefined;
  ready = false;

  constructor(
    readonly index: number,
    private readonly init: GrammarThreadInit,
    private readonly events: GrammarWorkerEvents,
  ) {
    if (!THREAD_FILE) throw new Error('structured/grammar-thread.js is missing: build @sluice/engine first');
  }

  /** Starts a fresh thread (stopping the one before it); it posts 'ready' once XGrammar is loaded. */
  start(): void {
    this.stop();
    this.ready = false;
    const thread = new Worker(THREAD_FILE!, { workerData: this.init });
    thread.on('message', (m: FromGrammarThread) => {
      if (m.type === 'ready') this.ready = true;
      this.events.onMessage(this.index, m);
    });
    thread.on('error', (e) => this.events.onLost(this.index, `grammar thread ${this.index} failed: ${e.message}`));
    thread.on('exit', (code) => this.events.onLost(this.index, `grammar thread ${this.index} exited (code ${code})`));
    this.thread = thread;
  }

  post(m: ToGrammarThread): void {
    this.thread?.postMessage(m);
  }

  /** Whether the thread keeps the process alive (only while the engine waits on it for a compile or a restart). */
  ref(on: boolean): void {
    if (on) this.thread?.ref();
    else this.thread?.unref();
  }

  stop(): void {
    if (!this.thread) return;
    this.thread.removeAllListeners();
    void this.thread.terminate();
    this.thread = undefined;
    this.ready = false;
  }
}
