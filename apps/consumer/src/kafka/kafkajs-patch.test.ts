import { createRequire } from 'node:module';

// patches/kafkajs+2.2.4.patch, applied by patch-package on install, fixes two kafkajs 2.2.4 bugs; these tests fail
// on the unpatched files.
// - The request queue re-arms a 1 ms timer forever on every connection once its first response arrives
//   (kafkajs#1556), waking the worker's main thread about a thousand times a second on the core the engine computes on.
// - read_committed let records of aborted transactions through when the broker listed the aborted transactions out
//   of first-offset order (it lists them in abort order): after a kill -9, the new owner fences several partition
//   producers at once, and a reader of the results topic saw completions the restart wrote again.
interface RequestQueue {
  pending: unknown[];
  push(request: { entry: { correlationId: number; resolve: () => void; reject: () => void }; expectResponse: boolean; sendRequest: () => void }): void;
  checkPendingRequests(): void;
  maybeThrottle(ms: number): void;
}
type RequestQueueCtor = new (options: Record<string, unknown>) => RequestQueue;

const RequestQueue = createRequire(__filename)('kafkajs/src/network/requestQueue') as RequestQueueCtor;
const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const queue = () => new RequestQueue({ maxInFlightRequests: null, requestTimeout: 30_000, enforceRequestTimeout: false, clientId: 'test', broker: 'localhost:9092', logger: quiet });

describe('kafkajs request queue (patched)', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('arms no timer when a response leaves nothing pending', () => {
    const q = queue();
    q.checkPendingRequests(); // what every response does
    expect(jest.getTimerCount()).toBe(0);
  });

  it('still sends a request held back by broker throttling once the throttle ends', () => {
    const q = queue();
    const sendRequest = jest.fn();
    q.maybeThrottle(100);
    q.push({ entry: { correlationId: 1, resolve: () => undefined, reject: () => undefined }, expectResponse: false, sendRequest });
    expect(sendRequest).not.toHaveBeenCalled();
    expect(q.pending).toHaveLength(1);
    jest.advanceTimersByTime(101);
    expect(sendRequest).toHaveBeenCalledTimes(1);
    expect(q.pending).toHaveLength(0);
    expect(jest.getTimerCount()).toBe(0);
  });
});

interface FetchedMessage { offset: string; key: Buffer | null; isControlRecord: boolean; batchContext: { producerId: string; inTransaction: boolean } }
type FilterAborted = (args: { messages: FetchedMessage[]; abortedTransactions: Array<{ producerId: string; firstOffset: string }> }) => FetchedMessage[];
const filterAborted = createRequire(__filename)('kafkajs/src/consumer/filterAbortedMessages') as FilterAborted;

const ABORT = Buffer.from([0, 0, 0, 0]);
const data = (offset: number, producerId: number, key = Buffer.from('job')): FetchedMessage => ({ offset: String(offset), key, isControlRecord: false, batchContext: { producerId: String(producerId), inTransaction: true } });
const abortMarker = (offset: number, producerId: number): FetchedMessage => ({ ...data(offset, producerId, ABORT), isControlRecord: true });
const visible = (messages: FetchedMessage[], aborted: Array<[producerId: number, firstOffset: number]>) =>
  filterAborted({ messages, abortedTransactions: aborted.map(([p, f]) => ({ producerId: String(p), firstOffset: String(f) })) })
    .filter((m) => !m.isControlRecord)
    .map((m) => Number(m.offset));

describe('kafkajs read_committed filter (patched)', () => {
  it('drops every aborted record when the broker lists the aborts out of first-offset order', () => {
    // Producers 1 and 2 interleave; 2's abort marker comes first, so the broker lists it first.
    const log = [data(0, 1), data(1, 2), data(2, 1), data(3, 2), abortMarker(4, 2), abortMarker(5, 1), data(6, 3)];
    expect(visible(log, [[2, 1], [1, 0]])).toEqual([6]);
  });

  it('drops the records of every transaction already open where the fetch starts', () => {
    const log = [data(10, 2), data(11, 1), abortMarker(12, 1), abortMarker(13, 2), data(14, 1), data(15, 2)];
    expect(visible(log, [[1, 3], [2, 5]])).toEqual([14, 15]);
  });

  it('ends an aborted transaction only at its control record, not at a data record keyed 0x00000000', () => {
    const log = [data(0, 1), data(1, 1, ABORT), data(2, 1), abortMarker(3, 1), data(4, 1)];
    expect(visible(log, [[1, 0]])).toEqual([4]);
  });

  it('keeps committed records of a producer whose earlier transaction aborted', () => {
    const committed = (offset: number): FetchedMessage => ({ ...data(offset, 1, Buffer.from([0, 0, 0, 1])), isControlRecord: true });
    const log = [data(0, 1), abortMarker(1, 1), data(2, 1), committed(3), data(4, 2)];
    expect(visible(log, [[1, 0]])).toEqual([2, 4]);
  });
});
