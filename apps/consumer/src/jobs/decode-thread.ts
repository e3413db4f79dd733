// Runs a synchronous decoder on a worker_thread under a time budget, so a decoder bug cannot hang the main thread.
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';

/**
 * DECODE_TIMEOUT: the record took over the time budget; DECODE_CRASHED: the thread died on the record (e.g. out of
 * memory); DECODE_UNAVAILABLE: no thread to decode with (closed, or it could not start): transient, not the record's fault.
 */
export type DecodeThreadErrorCode = 'DECODE_TIMEOUT' | 'DECODE_CRASHED' | 'DECODE_UNAVAILABLE';

export class DecodeThreadError extends Error {
  override readonly name = 'DecodeThreadError';
  constructor(readonly code: DecodeThreadErrorCode, message: string) {
    super(message);
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

type FromThread = { ready: true } | { id: number; ok: true; value: unknown } | { id: number; ok: false; error: { name: string; message: string; code?: string; field?: string } };

// The thread answers in the order it was asked, one record at a time, so the oldest pending item is the one in hand.
const glue = (body: string) => `
const { parentPort, workerData } = require('node:worker_threads');
${body}
const decode = makeDecoder(workerData);
const describe = (e) => (e !== null && typeof e === 'object'
  ? { name: String(e.name), message: String(e.message), code: e.code === undefined ? undefined : String(e.code), field: e.field === undefined ? undefined : String(e.field) }
  : { name: 'Error', message: String(e) });
let queue = Promise.resolve();
parentPort.on('message', (m) => {
  queue = queue.then(async () => {
    try {
      const value = await decode(Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength), m.context);
      parentPort.postMessage({ id: m.id, ok: true, value });
    } catch (e) {
      parentPort.postMessage({ id: m.id, ok: false, error: describe(e) });
    }
  });
});
parentPort.postMessage({ ready: true });
`;

/**
 * One decode thread with an explicit lifecycle: start() (resolves once the thread is up), decode(), close(). Records
 * are posted as they come (pipelined) and answered in order. A record that takes longer than timeoutMs, or kills the
 * thread, is failed alone; the thread is replaced and the records queued behind it are resubmitted.
 */
export class DecodeThread {
  private worker: Worker | undefined;
  private ready = false;
  private readonly pending: Item[] = [];
  private nextId = 0;
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
      if (this.worker) this.post(this.worker, item);
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
    for (const item of this.pending.splice(0)) item.reject(new DecodeThreadError('DECODE_UNAVAILABLE', 'the decode thread was closed'));
    this.starting?.reject(new DecodeThreadError('DECODE_UNAVAILABLE', 'the decode thread was closed while starting'));
    await worker?.terminate();
  }

  private spawn(): void {
    const worker = new Worker(glue(this.o.body), { eval: true, workerData: this.o.data, resourceLimits: { maxOldGenerationSizeMb: this.o.maxHeapMb ?? 256 } });
    worker.unref(); // an idle decoder never keeps the process alive
    this.worker = worker;
    this.ready = false;
    worker.on('message', (m: FromThread) => this.worker === worker && this.onMessage(m));
    worker.on('error', (e) => this.worker === worker && this.onDeath(worker, `failed: ${e.message}`));
    worker.on('exit', (code) => this.worker === worker && this.onDeath(worker, `exited (code ${code})`));
    for (const item of this.pending) this.post(worker, item);
  }

  // A copy of the bytes is transferred: a Kafka value is a view of a larger fetch buffer, which would be cloned whole.
  private post(worker: Worker, item: Item): void {
    const copy = new Uint8Array(item.bytes);
    worker.postMessage({ id: item.id, bytes: copy, context: item.context }, [copy.buffer]);
  }

  private onMessage(m: FromThread): void {
    this.since = Date.now();
    if ('ready' in m) {
      this.ready = true;
      this.starting?.resolve();
      this.starting = undefined;
      return;
    }
    const at = this.pending.findIndex((i) => i.id === m.id);
    if (at < 0) return;
    const [item] = this.pending.splice(at, 1);
    if (m.ok) item.resolve(m.value);
    else item.reject(new RemoteDecodeError(m.error.name, m.error.message, m.error.code, m.error.field));
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
    const item = this.pending.shift();
    this.o.log?.warn({ why, pending: this.pending.length }, 'the decode thread died; replacing it');
    item?.reject(new DecodeThreadError('DECODE_CRASHED', `the decode thread ${why} while decoding this record`));
    this.replace();
  }

  private replace(): void {
    this.since = Date.now();
    this.spawn();
    this.arm();
  }

  private arm(): void {
    if (this.timer || this.pending.length === 0 || this.closed) return;
    this.timer = setTimeout(() => this.check(), Math.max(0, this.since + this.o.timeoutMs - Date.now()));
    this.timer.unref();
  }

  // Only a thread that is up is timed: its own start-up is not the record's fault.
  private check(): void {
    this.timer = undefined;
    if (this.pending.length === 0 || this.closed) return;
    if (!this.ready) this.since = Date.now();
    if (Date.now() - this.since < this.o.timeoutMs) return this.arm();
    const worker = this.worker;
    const item = this.pending.shift()!;
    this.o.log?.warn({ timeout_ms: this.o.timeoutMs, pending: this.pending.length }, 'a record overran the decode budget; replacing the decode thread');
    item.reject(new DecodeThreadError('DECODE_TIMEOUT', `decoding took longer than ${this.o.timeoutMs} ms (--decode-timeout-ms); the decoder was stopped`));
    this.worker = undefined;
    void worker?.terminate();
    this.replace();
  }
}
