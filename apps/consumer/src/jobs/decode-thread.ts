// Runs a synchronous decoder on a worker_thread under a time budget, so a decoder bug cannot hang the main thread.
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { ConsumerError } from '../errors';

/**
 * DECODE_TIMEOUT: the record took over the time budget; DECODE_CRASHED: the thread died on the record (e.g. out of
 * memory); DECODE_UNAVAILABLE: no thread to decode with (closed, or it could not start): transient, not the record's fault.
 */
export type DecodeThreadErrorCode = 'DECODE_TIMEOUT' | 'DECODE_CRASHED' | 'DECODE_UNAVAILABLE';

export class DecodeThreadError extends ConsumerError {
  override readonly name = 'DecodeThreadError';
  constructor(override readonly code: DecodeThreadErrorCode, message: string) {
    super(code, message);
  }
}

/** An error the decoder threw inside the thread, carried over with its name, code and field. */
export class RemoteDecodeError extends Error {
  override readonly name = 'RemoteDecodeError';
  constructor(readonly remoteName: string, message: string, readonly code?: string, readonly field?: string) {
    super(message);
  }
}

export interface DecodeThreadOptions {
  /** JS source run in the thread; it defines `makeDecoder(data)`, which returns `(bytes: Buffer, context) => value | Promise<value>`. */
  body: string;
  /** Handed to makeDecoder; structured-cloneable. */
  data?: unknown;
  /** The watchdog: with work pending and nothing finished for this long, the record in hand fails and the thread is replaced. */
  timeoutMs: number;
  /** Heap of the thread: an allocation bomb kills the thread (DECODE_CRASHED), never the process. */
  maxHeapMb?: number;
  log?: Logger;
}

interface Item {
  id: number;
  bytes: Uint8Array;
  context: unknown;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

type Result = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: { name: string; message: string; code?: string; field?: string } };
type FromThread = { ready: true } | { results: Result[] };

// Records come in chunks and are decoded in order; progress[0] counts the records finished, which the watchdog reads
// while a chunk is under way. Each chunk's answers go back in one message (one per record if a value will not clone).
const glue = (body: string) => `
const { parentPort, workerData } = require('node:worker_threads');
${body}
const decode = makeDecoder(workerData.data);
const progress = workerData.progress;
const describe = (e) => (e !== null && typeof e === 'object'
  ? { name: String(e.name), message: String(e.message), code: e.code === undefined ? undefined : String(e.code), field: e.field === undefined ? undefined : String(e.field) }
  : { name: 'Error', message: String(e) });
const send = (results) => {
  try { parentPort.postMessage({ results }); } catch (e) {
    for (const r of results) {
      try { parentPort.postMessage({ results: [r] }); } catch (e2) { parentPort.postMessage({ results: [{ id: r.id, ok: false, error: describe(e2) }] }); }
    }
  }
};
let queue = Promise.resolve();
parentPort.on('message', ({ bytes, items }) => {
  queue = queue.then(async () => {
    const results = [];
    for (const m of items) {
      try {
        results.push({ id: m.id, ok: true, value: await decode(Buffer.from(bytes.buffer, bytes.byteOffset + m.at, m.length), m.context) });
      } catch (e) {
        results.push({ id: m.id, ok: false, error: describe(e) });
      }
      Atomics.add(progress, 0, 1);
    }
    send(results);
  });
});
parentPort.postMessage({ ready: true });
`;

/**
 * One decode thread with an explicit lifecycle: start() (resolves once the thread is up), decode(), close(). Records
 * asked for in one tick go over in one message (pipelined) and are answered in order. A record that takes longer than
 * timeoutMs, or kills the thread, is failed alone; the thread is replaced and the records queued behind it resubmitted.
 */
export class DecodeThread {
  private worker: Worker | undefined;
  private ready = false;
  /** Asked for and not answered, in the order the thread decodes them. */
  private readonly pending: Item[] = [];
  /** Asked for in this tick and not posted yet (a tail of pending). */
  private outbox: Item[] = [];
  private nextId = 0;
  /** The current thread's count of finished records, shared; and how many of them were answered, or last seen. */
  private progress = new Int32Array(new SharedArrayBuffer(4));
  private answered = 0;
  private seenFinished = 0;
  /** When the thread last made progress: finished a record, came up, or was handed work while idle. */
  private since = 0;
  private timer: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  private starting: { resolve: () => void; reject: (e: Error) => void } | undefined;

  constructor(private readonly o: DecodeThreadOptions) {}

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.starting = { resolve, reject };
      this.spawn();
    });
  }

  decode(bytes: Uint8Array, context?: unknown): Promise<unknown> {
    if (this.closed) return Promise.reject(new DecodeThreadError('DECODE_UNAVAILABLE', 'the decode thread is closed'));
    return new Promise((resolve, reject) => {
      const item: Item = { id: this.nextId++, bytes, context, resolve, reject };
      if (this.pending.length === 0) this.since = Date.now();
      this.pending.push(item);
      if (this.outbox.push(item) === 1) queueMicrotask(() => this.flush());
      this.arm();
    });
  }

  /** Stops the thread; records still pending fail with DECODE_UNAVAILABLE. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.retry);
    const worker = this.worker;
    this.worker = undefined;
    this.outbox = [];
    for (const item of this.pending.splice(0)) item.reject(new DecodeThreadError('DECODE_UNAVAILABLE', 'the decode thread was closed'));
    this.starting?.reject(new DecodeThreadError('DECODE_UNAVAILABLE', 'the decode thread was closed while starting'));
    await worker?.terminate();
  }

  private spawn(): void {
    this.progress = new Int32Array(new SharedArrayBuffer(4));
    this.answered = 0;
    this.seenFinished = 0;
    const workerData = { data: this.o.data, progress: this.progress };
    const worker = new Worker(glue(this.o.body), { eval: true, workerData, resourceLimits: { maxOldGenerationSizeMb: this.o.maxHeapMb ?? 256 } });
    worker.unref(); // an idle decoder never keeps the process alive
    this.worker = worker;
    this.ready = false;
    worker.on('message', (m: FromThread) => this.worker === worker && this.onMessage(m));
    worker.on('error', (e) => this.worker === worker && this.onDeath(worker, `failed: ${e.message}`));
    worker.on('exit', (code) => this.worker === worker && this.onDeath(worker, `exited (code ${code})`));
    this.outbox = [];
    if (this.pending.length > 0) this.post(worker, this.pending);
  }

  private flush(): void {
    const items = this.outbox;
    this.outbox = [];
    if (this.worker && items.length > 0) this.post(this.worker, items);
  }

  // The values are copied into one transferred buffer: a Kafka value is a view of a larger fetch buffer, cloned whole.
  private post(worker: Worker, items: Item[]): void {
    const bytes = new Uint8Array(items.reduce((sum, i) => sum + i.bytes.byteLength, 0));
    let at = 0;
    const meta = items.map((i) => {
      bytes.set(i.bytes, at);
      at += i.bytes.byteLength;
      return { id: i.id, at: at - i.bytes.byteLength, length: i.bytes.byteLength, context: i.context };
    });
    worker.postMessage({ bytes, items: meta }, [bytes.buffer]);
  }

  private onMessage(m: FromThread): void {
    this.since = Date.now();
    if ('ready' in m) {
      this.ready = true;
      this.starting?.resolve();
      this.starting = undefined;
      return;
    }
    for (const r of m.results) {
      this.answered++;
      const at = this.pending.findIndex((i) => i.id === r.id);
      if (at < 0) continue;
      const [item] = this.pending.splice(at, 1);
      if (r.ok) item.resolve(r.value);
      else item.reject(new RemoteDecodeError(r.error.name, r.error.message, r.error.code, r.error.field));
    }
  }

  /** The pending record the thread is on: the ones before it are finished, their answers on the way. */
  private takeInHand(): Item | undefined {
    const at = Atomics.load(this.progress, 0) - this.answered;
    return at >= 0 && at < this.pending.length ? this.pending.splice(at, 1)[0] : undefined;
  }

  /** The thread died: the record in hand caused it; one that never came up is retried, or fails start(). */
  private onDeath(worker: Worker, why: string): void {
    if (this.closed) return;
    this.worker = undefined;
    void worker.terminate();
    if (!this.ready) {
      if (this.starting) {
        this.starting.reject(new DecodeThreadError('DECODE_UNAVAILABLE', `the decode thread ${why} while starting`));
        this.starting = undefined;
        this.closed = true;
        return;
      }
      this.o.log?.error({ why }, 'the decode thread failed to start; retrying');
      this.retry = setTimeout(() => this.spawn(), this.o.timeoutMs).unref();
      return;
    }
    const item = this.takeInHand();
    this.o.log?.warn({ why, pending: this.pending.length }, 'the decode thread died; replacing it');
    item?.reject(new DecodeThreadError('DECODE_CRASHED', `the decode thread ${why} while decoding this record`));
    this.replace();
  }

  private replace(): void {
    this.since = Date.now();
    this.spawn();
    this.arm();
  }

  // Progress inside a chunk is only seen when sampled: sampling four times a budget finds a stuck record within 1.25 of it.
  private arm(): void {
    if (this.timer || this.pending.length === 0 || this.closed) return;
    const wait = Math.min(this.since + this.o.timeoutMs - Date.now(), this.o.timeoutMs / 4);
    this.timer = setTimeout(() => this.check(), Math.max(0, wait));
    this.timer.unref();
  }

  // Only a thread that is up is timed: its own start-up is not the record's fault.
  private check(): void {
    this.timer = undefined;
    if (this.pending.length === 0 || this.closed) return;
    const finished = Atomics.load(this.progress, 0);
    if (!this.ready || finished !== this.seenFinished) this.since = Date.now();
    this.seenFinished = finished;
    if (Date.now() - this.since < this.o.timeoutMs) return this.arm();
    const item = this.takeInHand();
    if (!item) return this.arm(); // every record finished: the answers are on their way
    const worker = this.worker;
    this.o.log?.warn({ timeout_ms: this.o.timeoutMs, pending: this.pending.length }, 'a record overran the decode budget; replacing the decode thread');
    item.reject(new DecodeThreadError('DECODE_TIMEOUT', `decoding took longer than ${this.o.timeoutMs} ms (--decode-timeout-ms); the decoder was stopped`));
    this.worker = undefined;
    void worker?.terminate();
    this.replace();
  }
}
