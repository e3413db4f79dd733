import { createRequire } from 'node:module';

// patches/kafkajs+2.2.4.patch, applied by patch-package on install: kafkajs 2.2.4 re-arms a 1 ms timer forever on
// every connection once its first response arrives (kafkajs#1556), waking the worker's main thread about a thousand
// times a second on the core the engine computes on. These tests fail on the unpatched file.
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
