// The worker's flow control, duplicate handling and readiness against small fakes of the Kafka client and the
// engine (unit level: the integration suites under test/ run the real bin against real Kafka).
import { Writable } from 'node:stream';
import type { EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import pino from 'pino';
import { resolveConfig } from '../config';
import type { EngineJob, EngineLoad, EngineResult, InferenceEngine } from '../engine/inference-engine';
import { EngineError } from '../errors';
import { jobKey } from '../jobs/in-flight-ids';
import { WorkerMetrics } from '../observability/metrics';
import { Worker } from '../worker';

const TOPIC = 'jobs';

/** The engine's load is a snapshot that moves only when the engine reports back, as AsyncEngine's does. */
class FakeEngine implements InferenceEngine {
  readonly model = 'echo';
  readonly pending = new Map<string, { resolve: (r: EngineResult) => void; reject: (e: Error) => void }>();
  readonly submitted: string[] = [];
  reportedWaiting = 0;
  /** When false, the engine never reports its load again after an abort (a stale count the watchdog must survive). */
  reportsAborts = true;

  submit(job: EngineJob): Promise<EngineResult> {
    this.submitted.push(job.id);
    if (this.pending.has(job.id)) return Promise.reject(new EngineError('REJECTED', `job ${job.id} is already running`));
    return new Promise((resolve, reject) => {
      this.pending.set(job.id, { resolve, reject });
      this.reportedWaiting = this.pending.size;
    });
  }

  /** Like the engine thread: the abort lands later, the load snapshot moves, then the request settles. */
  abort(id: string): void {
    setImmediate(() => {
      const p = this.pending.get(id);
      this.pending.delete(id);
      if (this.reportsAborts) this.reportedWaiting = this.pending.size;
      p?.reject(new EngineError('ABORTED', `job ${id} was aborted`));
    });
  }

  finish(id: string): void {
    const p = this.pending.get(id);
    this.pending.delete(id);
    this.reportedWaiting = this.pending.size;
    p?.resolve({ outputs: [{ index: 0, text: 'ok', finish_reason: 'stop', cumulative_logprob: 0 }], usage: { prompt_tokens: 1, completion_tokens: 1 }, timings: { queued_ms: 0, first_token_ms: 1, total_ms: 1 } });
  }

  load(): EngineLoad {
    return { running: 0, waiting: this.reportedWaiting, queued: 0, freeKvBlocks: 0, totalKvBlocks: 0, kvUsage: 0 };
  }

  async shutdown(): Promise<void> {}
}

/** Just enough of kafkajs for the worker: group events, pause/resume, offsets and an at-least-once producer. */
function fakeKafka() {
  const handlers = new Map<string, (e: { payload: unknown }) => void>();
  const state = { paused: false, pauses: 0, resumes: 0, commits: [] as Array<{ partition: number; offset: string }>, sent: 0, eachBatch: undefined as ((p: EachBatchPayload) => Promise<void>) | undefined };
  const consumer = {
    events: { GROUP_JOIN: 'join', CRASH: 'crash' },
    on: (event: string, h: (e: { payload: unknown }) => void) => handlers.set(event, h),
    connect: async () => undefined,
    subscribe: async () => undefined,
    run: async (o: { eachBatch: (p: EachBatchPayload) => Promise<void> }) => void (state.eachBatch = o.eachBatch),
    pause: () => void ((state.paused = true), state.pauses++),
    resume: () => void ((state.paused = false), state.resumes++),
    disconnect: async () => undefined,
    commitOffsets: async (o: Array<{ partition: number; offset: string }>) => void state.commits.push(...o.map(({ partition, offset }) => ({ partition, offset }))),
  };
  const admin = {
    connect: async () => undefined,
    describeCluster: async () => ({}),
    disconnect: async () => undefined,
    fetchOffsets: async () => [{ topic: TOPIC, partitions: [] }],
    describeConfigs: async () => ({ resources: [{ configEntries: [{ configName: 'max.message.bytes', configValue: '1048588' }] }] }),
  };
  const producer = { connect: async () => undefined, disconnect: async () => undefined, sendBatch: async (b: { topicMessages: Array<{ messages: unknown[] }> }) => void (state.sent += b.topicMessages.reduce((n, t) => n + t.messages.length, 0)) };
  const kafka = { consumer: () => consumer, admin: () => admin, producer: () => producer } as unknown as Kafka;
  const assign = (partitions: number[]) => handlers.get('join')!({ payload: { memberAssignment: { [TOPIC]: partitions } } });
  return { kafka, state, assign };
}

const key = (id: string, batch = 'b1') => jobKey(batch, id);
const job = (id: string, batch = 'b1') => JSON.stringify({ job_id: id, batch_id: batch, prompt: `prompt ${id}`, created_at: Date.now() });

function batchOf(partition: number, values: string[], first = 0): EachBatchPayload {
  const messages = values.map((value, i) => ({ offset: String(first + i), key: null, value: Buffer.from(value), headers: {}, timestamp: '0', attributes: 0 }) as unknown as KafkaMessage);
  const lastOffset = () => String(first + values.length - 1);
  return {
    batch: { topic: TOPIC, partition, highWatermark: String(first + values.length), messages, lastOffset },
    resolveOffset: () => undefined,
    heartbeat: async () => undefined,
    isRunning: () => true,
    isStale: () => false,
  } as unknown as EachBatchPayload;
}

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

function setup(flags: string[] = []) {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write: (chunk: Buffer, _enc, cb) => (lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>), cb()) });
  const log = pino({ level: 'debug' }, sink);
  const config = resolveConfig(['--jobs-topic', TOPIC, '--delivery', 'at-least-once', '--export', 'false', '--commit-interval-ms', '600000', ...flags], {});
  const engine = new FakeEngine();
  const k = fakeKafka();
  const metrics = new WorkerMetrics(false);
  const worker = new Worker({ config, kafka: k.kafka, engine, metrics, log });
  return { worker, engine, metrics, lines, ...k, eachBatch: (p: EachBatchPayload) => k.state.eachBatch!(p) };
}

describe('Worker backpressure', () => {
  afterEach(() => jest.useRealTimers());

  it('resumes once the aborts of a revoked partition have landed in the engine, though the engine still counted them at the revoke', async () => {
    const w = setup(['--max-engine-waiting', '4']);
    await w.worker.start();
    w.assign([0, 1]);
    await w.eachBatch(batchOf(1, [job('p1')]));
    await w.eachBatch(batchOf(0, ['a', 'b', 'c', 'd', 'e'].map((id) => job(id))));
    expect(w.engine.submitted).toEqual(['p1', 'a', 'b', 'c'].map((id) => key(id)));
    expect(w.state.paused).toBe(true);
    w.assign([1]); // partition 0 revoked: its three are aborted, but the engine counts them until the aborts land
    expect(w.state.paused).toBe(true);
    await settle();
    expect([...w.engine.pending.keys()]).toEqual([key('p1')]);
    expect(w.state.paused).toBe(false);
    expect(w.lines.some((l) => l.msg === 'backpressure watchdog: resuming fetching')).toBe(false); // the re-check did it, not the watchdog
    w.engine.finish(key('p1'));
    await w.worker.stop();
  });

  it('the watchdog resumes a pause that no re-check released, and says so', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    const w = setup(['--max-engine-waiting', '4']);
    await w.worker.start();
    w.assign([0]);
    await w.eachBatch(batchOf(0, ['a', 'b', 'c', 'd', 'e'].map((id) => job(id))));
    expect(w.state.paused).toBe(true);
    w.engine.reportedWaiting = 0; // the engine took its queue in and reported it without finishing a job: no callback re-checks
    expect(w.state.paused).toBe(true);
    jest.advanceTimersByTime(1000);
    expect(w.state.paused).toBe(false);
    const warning = w.lines.find((l) => l.msg === 'backpressure watchdog: resuming fetching');
    expect(warning).toMatchObject({ level: 40, reason: 'paused while every count is below its resume threshold', in_flight: 4, uncommitted: 4, engine_waiting: 0 });
    jest.useRealTimers();
    for (const id of ['a', 'b', 'c', 'd']) w.engine.finish(key(id));
    await w.worker.stop();
  });

  it('does not count what the engine still holds once none of it is ours: a full revoke resumes at once', async () => {
    const w = setup(['--max-engine-waiting', '4']);
    w.engine.reportsAborts = false; // the engine's count never drops
    await w.worker.start();
    w.assign([0]);
    await w.eachBatch(batchOf(0, ['a', 'b', 'c', 'd', 'e'].map((id) => job(id))));
    expect(w.state.paused).toBe(true);
    w.assign([]);
    expect(w.state.paused).toBe(false);
    await settle();
    await w.worker.stop();
  });
});

describe('Worker duplicate job ids', () => {
  it('does not run a second copy of a job running here; both offsets commit with one completion', async () => {
    const w = setup();
    await w.worker.start();
    w.assign([0]);
    await w.eachBatch(batchOf(0, [job('x'), job('x'), job('y')]));
    expect(w.engine.submitted).toEqual([key('x'), key('y')]);
    expect(w.lines.find((l) => l.msg?.toString().startsWith('duplicate job skipped'))).toMatchObject({ level: 30, job_id: 'x', batch_id: 'b1', offset: '1', first_offset: '0' });
    w.engine.finish(key('x'));
    w.engine.finish(key('y'));
    await settle();
    await w.worker.stop();
    expect(w.state.commits.at(-1)).toEqual({ partition: 0, offset: '3' });
    expect(w.state.sent).toBe(2);
    expect(await w.metrics.registry.getSingleMetricAsString('sluice_jobs_duplicate_total')).toContain('sluice_jobs_duplicate_total 1');
  });

  it('commits a range made only of a duplicate: the offset moves and no record is written', async () => {
    const w = setup(['--drain-timeout', '100ms']);
    await w.worker.start();
    w.assign([0, 1]);
    await w.eachBatch(batchOf(0, [job('x')]));
    await w.eachBatch(batchOf(1, [job('x')]));
    expect(w.engine.submitted).toEqual([key('x')]);
    await w.worker.stop(); // the first copy is aborted at the drain deadline; partition 1's range (the copy alone) commits
    expect(w.state.commits).toEqual([{ partition: 1, offset: '1' }]);
    expect(w.state.sent).toBe(0);
  });

  it('runs jobs of two batches that share a job_id side by side: they are different jobs', async () => {
    const w = setup();
    await w.worker.start();
    w.assign([0]);
    await w.eachBatch(batchOf(0, [job('x', 'b1'), job('x', 'b2')]));
    expect(w.engine.submitted).toEqual([key('x', 'b1'), key('x', 'b2')]);
    w.engine.finish(key('x', 'b1'));
    w.engine.finish(key('x', 'b2'));
    await settle();
    await w.worker.stop();
    expect(w.state.sent).toBe(2);
    expect(w.lines.filter((l) => l.msg === 'engine rejected the job')).toEqual([]);
  });
});
