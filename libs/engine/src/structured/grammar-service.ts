// The engine thread's side of structured output: a grammar thread that owns XGrammar, compiles off the engine's
// thread with a time bound, and fills each step's masks; a cache of compiled constraints; restart on a timeout.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { DEFAULT_GRAMMAR_COMPILE_TIMEOUT_MS, DEFAULT_GRAMMAR_MASK_TIMEOUT_MS } from '../config';
import { InvalidStructuredOutputError } from '../errors';
import { DEFAULT_GRAMMAR_CACHE_ENTRIES, type GrammarCacheStats, type GrammarVocab } from './grammar-compiler';
import { CONTROL_WORDS, type FillRow, type FromGrammarThread, type GrammarThreadInit, type ToGrammarThread } from './grammar-protocol';
import { HeldLru } from './held-lru';
import { PendingMasks, type MaskBuffers } from './pending-masks';
import { RemoteGrammar, type GrammarLink, type RemoteMatcher } from './remote-grammar';
import type { StructuredOutput } from './structured-output';

// The thread is a compiled file: beside this one in dist, or (this file run from src by ts-jest) in the built package.
const THREAD_FILE = [join(__dirname, 'grammar-thread.js'), join(__dirname, '..', '..', 'dist', 'structured', 'grammar-thread.js')].find(existsSync);

export interface GrammarServiceOptions {
  vocab: GrammarVocab;
  stopTokenIds: readonly number[];
  /** Rows a step samples at most: the masks buffer holds one bitmask each. */
  maxRows: number;
  compileTimeoutMs?: number;
  /** Longest one row's mask may take (its matcher advanced, the mask built); its request fails past it. */
  maskTimeoutMs?: number;
  maxEntries?: number;
}

export interface GrammarServiceStats extends GrammarCacheStats {
  /** Compiles that ran past the time limit (each restarted the grammar thread). */
  timeouts: number;
  restarts: number;
  /** Grammar-thread time filling masks, and engine-thread time blocked waiting for them, ms. */
  maskFillMs: number;
  maskWaitMs: number;
  /** Requests a fill ended: a mask over grammarMaskTimeoutMs, XGrammar failing on it, or a bug of ours. */
  maskFailures: number;
  /** Messages XGrammar threw on outside compiles and fills, and the last one's text. */
  threadErrors: number;
  lastThreadError?: string;
}

interface CompileJob {
  grammar: RemoteGrammar;
  resolve(g: RemoteGrammar): void;
  reject(e: Error): void;
}

/**
 * Owns the grammar thread and everything it holds. One compile runs at a time, bounded by compileTimeoutMs:
 * one that runs longer fails its request with INVALID_STRUCTURED_OUTPUT, and the thread (which cannot be
 * interrupted) is terminated and started again, its live grammars compiled again and live matchers replayed
 * from their tokens. While a compile or a restart is under way `ready` is false: the scheduler skips
 * constrained sequences then, and every other request's steps go on.
 */
export class GrammarService implements GrammarLink {
  private thread!: Worker;
  private threadReady = false;
  private inFlight: { job: CompileJob; timer: NodeJS.Timeout } | undefined;
  private readonly queue: CompileJob[] = [];
  /** Grammars compiled again in a restarted thread, not yet done. */
  private readonly restoring = new Set<number>();
  private readonly cache: HeldLru<RemoteGrammar>;
  /** Compiled and not freed: what a restarted thread must hold again. */
  private readonly live = new Map<number, RemoteGrammar>();
  private readonly matchers = new Set<RemoteMatcher>();
  private readonly buffers: MaskBuffers;
  private readonly init: GrammarThreadInit;
  private readonly counts = { compileMs: 0, timeouts: 0, restarts: 0, threadErrors: 0 };
  private lastThreadError: string | undefined;
  /** A restart is queued for after the step (XGrammar failed on a row). */
  private restartQueued = false;
  /** Called when the thread is next free (masks can be filled): a stalled step loop waits on these. */
  private waiters: Array<() => void> = [];
  private ids = 0;
  private generation = 0;
  private closed = false;
  readonly vocabSize: number;
  readonly stopTokenIds: readonly number[];
  readonly compileTimeoutMs: number;

  constructor(o: GrammarServiceOptions) {
    if (!THREAD_FILE) throw new Error('structured/grammar-thread.js is missing: build @sluice/engine first');
    this.vocabSize = o.vocab.tokens.length;
    this.stopTokenIds = [...o.stopTokenIds];
    this.compileTimeoutMs = o.compileTimeoutMs ?? DEFAULT_GRAMMAR_COMPILE_TIMEOUT_MS;
    this.cache = new HeldLru(o.maxEntries ?? DEFAULT_GRAMMAR_CACHE_ENTRIES);
    const words = Math.ceil(this.vocabSize / 32);
    const shared = (n: number) => new SharedArrayBuffer(4 * n);
    const maskTimeoutMs = o.maskTimeoutMs ?? DEFAULT_GRAMMAR_MASK_TIMEOUT_MS;
    this.init = { vocab: o.vocab, stopTokenIds: [...o.stopTokenIds], masks: shared(o.maxRows * words), control: shared(CONTROL_WORDS), status: shared(o.maxRows), maskTimeoutMs };
    this.buffers = {
      masks: new Int32Array(this.init.masks), control: new Int32Array(this.init.control), status: new Int32Array(this.init.status),
      words, maskTimeoutMs, stats: { fillMs: 0, waitMs: 0, failedRows: 0 },
    };
    this.start();
  }

  get ready(): boolean {
    return this.threadReady && !this.inFlight && this.restoring.size === 0 && !this.closed;
  }

  /** The compiled constraint, from the cache when an earlier request had the same one; held for the caller. */
  async compile(so: StructuredOutput): Promise<RemoteGrammar> {
    // A refused or timed-out constraint stays cached too: the same one fails at once next time.
    return this.cache.get(`${so.kind}\n${so.text}`, () => {
      const entry = new Promise<RemoteGrammar>((resolve, reject) => this.queue.push({ grammar: new RemoteGrammar(++this.ids, so, this), resolve, reject }));
      this.pump();
      return entry;
    });
  }

  /** Settles when constrained sequences can step again (at once if they can now). */
  whenReady(): Promise<void> {
    return this.ready || this.closed ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }

  fill(rows: FillRow[]): PendingMasks {
    const generation = ++this.generation;
    this.post({ type: 'fill', generation, rows });
    return new PendingMasks(this.buffers, generation, rows.length, () => this.queueRestart());
  }

  stats(): GrammarServiceStats {
    const { compileMs, timeouts, restarts, threadErrors } = this.counts;
    const { hits, misses } = this.cache.counts;
    const { fillMs, waitMs, failedRows } = this.buffers.stats;
    return {
      entries: this.cache.size, hits, misses, compileMs, timeouts, restarts, maskFillMs: fillMs, maskWaitMs: waitMs, maskFailures: failedRows, threadErrors,
      ...(this.lastThreadError === undefined ? {} : { lastThreadError: this.lastThreadError }),
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.inFlight) clearTimeout(this.inFlight.timer);
    for (const job of [...(this.inFlight ? [this.inFlight.job] : []), ...this.queue.splice(0)]) job.reject(new InvalidStructuredOutputError('the engine closed before the constraint compiled'));
    this.inFlight = undefined;
    this.stop();
    this.wake();
  }

  post(m: ToGrammarThread): void {
    if (!this.closed) this.thread.postMessage(m);
  }

  nextMatcherId(): number {
    return ++this.ids;
  }

  onMatcher(m: RemoteMatcher, live: boolean): void {
    if (live) this.matchers.add(m);
    else this.matchers.delete(m);
  }

  onGrammarFreed(g: RemoteGrammar): void {
    this.live.delete(g.id);
  }

  private start(): void {
    this.threadReady = false;
    const thread = new Worker(THREAD_FILE!, { workerData: this.init });
    thread.on('message', (m: FromGrammarThread) => this.onMessage(m));
    thread.on('error', (e) => this.onThreadLost(`the grammar thread failed: ${e.message}`));
    thread.on('exit', (code) => this.onThreadLost(`the grammar thread exited (code ${code})`));
    this.thread = thread;
    this.updateRef();
  }

  private stop(): void {
    this.thread.removeAllListeners();
    void this.thread.terminate();
  }

  private onMessage(m: FromGrammarThread): void {
    if (m.type === 'ready') this.threadReady = true;
    else if (m.type === 'error') {
      this.counts.threadErrors++;
      this.lastThreadError = m.message;
    } else if (this.restoring.delete(m.grammar)) {
      // Compiled once within the limit already; failing now would be XGrammar's bug, shown by the matchers' fills.
    } else if (this.inFlight?.job.grammar.id === m.grammar) {
      const { job, timer } = this.inFlight;
      clearTimeout(timer);
      this.inFlight = undefined;
      if (m.type === 'compiled') {
        this.counts.compileMs += m.ms;
        this.live.set(job.grammar.id, job.grammar);
        job.resolve(job.grammar);
      } else {
        job.reject(new InvalidStructuredOutputError(m.message));
      }
    }
    this.pump();
  }

  // Starts the next queued compile when the thread is free, with its time limit.
  private pump(): void {
    if (this.ready && this.queue.length === 0) this.wake();
    if (!this.ready || this.queue.length === 0) return this.updateRef();
    const job = this.queue.shift()!;
    const timer = setTimeout(() => this.onTimeout(), this.compileTimeoutMs);
    this.inFlight = { job, timer };
    this.post({ type: 'compile', grammar: job.grammar.id, so: job.grammar.so });
    this.updateRef();
  }

  private onTimeout(): void {
    const job = this.inFlight?.job;
    this.inFlight = undefined;
    this.counts.timeouts++;
    job?.reject(new InvalidStructuredOutputError(`the ${job.grammar.so.kind} constraint did not compile within ${this.compileTimeoutMs} ms (grammarCompileTimeoutMs)`));
    this.restart();
  }

  // The thread died under a compile (XGrammar aborted, out of memory): that constraint fails, the rest goes on.
  private onThreadLost(why: string): void {
    if (this.closed) return;
    const job = this.inFlight?.job;
    if (this.inFlight) clearTimeout(this.inFlight.timer);
    this.inFlight = undefined;
    job?.reject(new InvalidStructuredOutputError(`the ${job.grammar.so.kind} constraint could not be compiled: ${why}`));
    this.restart();
  }

  // XGrammar threw inside a step's fill, and may be unusable now: a fresh thread once the step is over.
  private queueRestart(): void {
    this.restartQueued = true;
  }

  /** Called after each step, once the requests a fill failed have ended (their matchers are then not replayed). */
  afterStep(): void {
    if (!this.restartQueued || this.closed) return;
    this.restartQueued = false;
    this.restart();
  }

  // A new thread holding what the old one held: live grammars compiled again (no time limit: each compiled within it once), then every live matcher replayed.
  private restart(): void {
    this.counts.restarts++;
    this.stop();
    this.start();
    this.restoring.clear();
    for (const g of this.live.values()) {
      this.restoring.add(g.id);
      this.post({ type: 'compile', grammar: g.id, so: g.so });
    }
    for (const m of this.matchers) m.create();
    this.updateRef();
  }

  private wake(): void {
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  // The thread keeps the process alive only while a compile or a restart is under way.
  private updateRef(): void {
    if (this.closed) return;
    if (this.inFlight || this.restoring.size > 0 || this.queue.length > 0 || !this.threadReady) this.thread.ref();
    else this.thread.unref();
  }
}
