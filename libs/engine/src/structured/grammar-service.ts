// The engine thread's side of structured output: a pool of grammar threads that own XGrammar, compile off the
// engine's thread with a time bound and fill each step's masks side by side; a cache of compiled constraints;
// restart on a timeout or a failure.
import { DEFAULT_GRAMMAR_COMPILE_TIMEOUT_MS, DEFAULT_GRAMMAR_MASK_TIMEOUT_MS } from '../config';
import { InvalidStructuredOutputError } from '../errors';
import { DEFAULT_GRAMMAR_CACHE_ENTRIES, type GrammarCacheStats, type GrammarVocab } from './grammar-compiler';
import { CONTROL_WORDS, type FillRow, type FromGrammarThread, type GrammarThreadInit, type ToGrammarThread } from './grammar-protocol';
import { GrammarWorker } from './grammar-worker';
import { HeldLru } from './held-lru';
import { PendingMasks, type MaskBuffers } from './pending-masks';
import { RemoteGrammar, type GrammarLink, type MaskRequest, type RemoteMatcher } from './remote-grammar';
import type { StructuredOutput } from './structured-output';

export interface GrammarServiceOptions {
  vocab: GrammarVocab;
  stopTokenIds: readonly number[];
  /** Rows a step samples at most: the masks buffer holds one bitmask each. */
  maxRows: number;
  compileTimeoutMs?: number;
  /** Longest one row's mask may take (its matcher advanced, the mask built); its request fails past it. */
  maskTimeoutMs?: number;
  maxEntries?: number;
  /** Grammar threads: each holds every live grammar and its share of the matchers, and fills their rows. */
  threads?: number;
}

export interface GrammarServiceStats extends GrammarCacheStats {
  threads: number;
  /** Compiles that ran past the time limit (each restarted the grammar threads). */
  timeouts: number;
  restarts: number;
  /** Grammar-thread time filling masks (all threads), and engine-thread time blocked waiting for them, ms. */
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

interface InFlightCompile {
  job: CompileJob;
  timer: NodeJS.Timeout;
  /** Threads that have not answered yet; the compile is done when every thread has. */
  waiting: Set<number>;
  ms: number;
  failure?: string;
}

/**
 * Owns the grammar threads and everything they hold. Each thread compiles every constraint (so any can hold a
 * matcher of it) and owns a share of the matchers, whose rows it fills: masks of a step are built side by side.
 * One compile runs at a time, bounded by compileTimeoutMs: one that runs longer fails its request with
 * INVALID_STRUCTURED_OUTPUT, and the threads (which cannot be interrupted) are started again, their live
 * grammars compiled again and live matchers replayed from their tokens. While a compile or a restart is under
 * way `ready` is false: the scheduler skips constrained sequences then, and every other request's steps go on.
 */
export class GrammarService implements GrammarLink {
  private readonly workers: GrammarWorker[];
  private inFlight: InFlightCompile | undefined;
  private readonly queue: CompileJob[] = [];
  /** `${grammar}:${thread}` for grammars compiled again in a restarted thread, not yet done. */
  private readonly restoring = new Set<string>();
  private readonly cache: HeldLru<RemoteGrammar>;
  /** Compiled and not freed: what a restarted thread must hold again. */
  private readonly live = new Map<number, RemoteGrammar>();
  private readonly matchers = new Set<RemoteMatcher>();
  private readonly buffers: MaskBuffers;
  private readonly counts = { compileMs: 0, timeouts: 0, restarts: 0, threadErrors: 0 };
  private lastThreadError: string | undefined;
  /** A restart is queued for after the step (XGrammar failed on a row). */
  private restartQueued = false;
  /** Called when the threads are next free (masks can be filled): a stalled step loop waits on these. */
  private waiters: Array<() => void> = [];
  private ids = 0;
  private generation = 0;
  private closed = false;
  readonly vocabSize: number;
  readonly stopTokenIds: readonly number[];
  readonly compileTimeoutMs: number;

  constructor(o: GrammarServiceOptions) {
    this.vocabSize = o.vocab.tokens.length;
    this.stopTokenIds = [...o.stopTokenIds];
    this.compileTimeoutMs = o.compileTimeoutMs ?? DEFAULT_GRAMMAR_COMPILE_TIMEOUT_MS;
    this.cache = new HeldLru(o.maxEntries ?? DEFAULT_GRAMMAR_CACHE_ENTRIES);
    const threads = o.threads ?? 1;
    const words = Math.ceil(this.vocabSize / 32);
    const shared = (n: number) => new SharedArrayBuffer(4 * n);
    const maskTimeoutMs = o.maskTimeoutMs ?? DEFAULT_GRAMMAR_MASK_TIMEOUT_MS;
    const init: Omit<GrammarThreadInit, 'index'> = {
      vocab: o.vocab, stopTokenIds: [...o.stopTokenIds], masks: shared(o.maxRows * words), control: shared(CONTROL_WORDS * threads), status: shared(o.maxRows), maskTimeoutMs,
    };
    this.buffers = {
      masks: new Int32Array(init.masks), control: new Int32Array(init.control), status: new Int32Array(init.status),
      words, maskTimeoutMs, stats: { fillMs: 0, waitMs: 0, failedRows: 0 },
    };
    const events = { onMessage: (k: number, m: FromGrammarThread) => this.onMessage(k, m), onLost: (k: number, why: string) => this.onThreadLost(why) };
    this.workers = Array.from({ length: threads }, (_, index) => new GrammarWorker(index, { ...init, index }, events));
    for (const w of this.workers) w.start();
    this.updateRef();
  }

  get ready(): boolean {
    return this.workers.every((w) => w.ready) && !this.inFlight && this.restoring.size === 0 && !this.closed;
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

  /**
   * Posts each constrained row to its matcher's thread, and the unconstrained ones (all tokens allowed) to the
   * thread with the fewest rows, so the engine thread writes no mask while the forward runs.
   */
  fill(rows: ReadonlyArray<MaskRequest | undefined>): PendingMasks {
    const generation = ++this.generation;
    const byThread = this.workers.map((): FillRow[] => []);
    rows.forEach((r, row) => r && byThread[r.matcher.thread].push({ row, ...r.matcher.fillRow(r.holdStop) }));
    const open = byThread.reduce((a, b) => (b.length < a.length ? b : a));
    rows.forEach((r, row) => r || open.push({ row, tokens: [], holdStop: false }));
    const waitOn = byThread.flatMap((list, k) => (list.length > 0 ? [k] : []));
    for (const k of waitOn) this.workers[k].post({ type: 'fill', generation, rows: byThread[k] });
    return new PendingMasks(this.buffers, generation, rows.length, waitOn, () => this.queueRestart());
  }

  stats(): GrammarServiceStats {
    const { compileMs, timeouts, restarts, threadErrors } = this.counts;
    const { hits, misses } = this.cache.counts;
    const { fillMs, waitMs, failedRows } = this.buffers.stats;
    return {
      entries: this.cache.size, hits, misses, compileMs, threads: this.workers.length, timeouts, restarts,
      maskFillMs: fillMs, maskWaitMs: waitMs, maskFailures: failedRows, threadErrors,
      ...(this.lastThreadError === undefined ? {} : { lastThreadError: this.lastThreadError }),
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.inFlight) clearTimeout(this.inFlight.timer);
    for (const job of [...(this.inFlight ? [this.inFlight.job] : []), ...this.queue.splice(0)]) job.reject(new InvalidStructuredOutputError('the engine closed before the constraint compiled'));
    this.inFlight = undefined;
    for (const w of this.workers) w.stop();
    this.wake();
  }

  /** A message for every thread (a grammar's), or for one (a matcher's). */
  post(m: ToGrammarThread, thread?: number): void {
    if (this.closed) return;
    if (thread === undefined) for (const w of this.workers) w.post(m);
    else this.workers[thread].post(m);
  }

  /** A new matcher's id and its thread: consecutive matchers (a request's n > 1 siblings, beams) spread over the pool. */
  nextMatcher(): { id: number; thread: number } {
    const id = ++this.ids;
    return { id, thread: id % this.workers.length };
  }

  onMatcher(m: RemoteMatcher, live: boolean): void {
    if (live) this.matchers.add(m);
    else this.matchers.delete(m);
  }

  onGrammarFreed(g: RemoteGrammar): void {
    this.live.delete(g.id);
  }

  /** Called after each step, once the requests a fill failed have ended (their matchers are then not replayed). */
  afterStep(): void {
    if (!this.restartQueued || this.closed) return;
    this.restartQueued = false;
    this.restart();
  }

  private onMessage(thread: number, m: FromGrammarThread): void {
    if (m.type === 'error') {
      this.counts.threadErrors++;
      this.lastThreadError = m.message;
    } else if (m.type !== 'ready' && !this.restoring.delete(`${m.grammar}:${thread}`) && this.inFlight?.job.grammar.id === m.grammar) {
      // (A restored grammar compiled once within the limit already; failing now would be XGrammar's bug, shown by the fills.)
      this.answered(this.inFlight, thread, m);
    }
    this.pump();
  }

  // One thread's answer to the compile in flight; the request learns the outcome once every thread has answered.
  private answered(c: InFlightCompile, thread: number, m: Extract<FromGrammarThread, { type: 'compiled' | 'failed' }>): void {
    c.waiting.delete(thread);
    if (m.type === 'compiled') c.ms = Math.max(c.ms, m.ms);
    else c.failure ??= m.message;
    if (c.waiting.size > 0) return;
    clearTimeout(c.timer);
    this.inFlight = undefined;
    this.counts.compileMs += c.ms;
    if (c.failure === undefined) {
      this.live.set(c.job.grammar.id, c.job.grammar);
      c.job.resolve(c.job.grammar);
      return;
    }
    // Threads that did compile it hold it: free it there (the cache keeps the refusal, not the grammar).
    this.post({ type: 'free-grammar', grammar: c.job.grammar.id });
    c.job.reject(new InvalidStructuredOutputError(c.failure));
  }

  // Starts the next queued compile on every thread when they are free, with its time limit.
  private pump(): void {
    if (this.ready && this.queue.length === 0) this.wake();
    if (!this.ready || this.queue.length === 0) return this.updateRef();
    const job = this.queue.shift()!;
    const timer = setTimeout(() => this.onTimeout(), this.compileTimeoutMs);
    this.inFlight = { job, timer, waiting: new Set(this.workers.map((w) => w.index)), ms: 0 };
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

  // A thread died under a compile (XGrammar aborted, out of memory): that constraint fails, the rest goes on.
  private onThreadLost(why: string): void {
    if (this.closed) return;
    const job = this.inFlight?.job;
    if (this.inFlight) clearTimeout(this.inFlight.timer);
    this.inFlight = undefined;
    job?.reject(new InvalidStructuredOutputError(`the ${job.grammar.so.kind} constraint could not be compiled: ${why}`));
    this.restart();
  }

  // XGrammar threw inside a step's fill, and may be unusable now: fresh threads once the step is over.
  private queueRestart(): void {
    this.restartQueued = true;
  }

  // New threads holding what the old ones held: live grammars compiled again (no time limit: each compiled within
  // it once), then every live matcher replayed on its thread.
  private restart(): void {
    this.counts.restarts++;
    this.restoring.clear();
    for (const w of this.workers) w.start();
    for (const g of this.live.values()) {
      for (const w of this.workers) this.restoring.add(`${g.id}:${w.index}`);
      this.post({ type: 'compile', grammar: g.id, so: g.so });
    }
    for (const m of this.matchers) m.create();
    this.updateRef();
  }

  private wake(): void {
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  // The threads keep the process alive only while a compile or a restart is under way.
  private updateRef(): void {
    if (this.closed) return;
    const busy = this.inFlight !== undefined || this.restoring.size > 0 || this.queue.length > 0 || !this.workers.every((w) => w.ready);
    for (const w of this.workers) w.ref(busy);
  }
}
