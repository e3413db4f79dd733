import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
// The worker is a compiled file, so this suite runs the built package (the test target builds first).
import {
  AsyncEngine,
  EngineError,
  InvalidEngineOptionsError,
  InvalidSamplingParamsError,
  LLMEngine,
  ModelLoadError,
  RequestAbortedError,
  RequestRejectedError,
  samplingParamsFromWire,
  type AsyncRequest,
  type EngineOptions,
  type RequestOutput,
} from '../dist';
import { tinyModel } from './helpers/tiny-models';

const DIST_WORKER = join(__dirname, '..', 'dist', 'async', 'worker.js');
if (!existsSync(DIST_WORKER)) throw new Error(`${DIST_WORKER} is missing: build first (npx nx run @sluice/engine:build)`);

jest.setTimeout(120_000);

const model = tinyModel('tiny-llama');
const GREEDY = { temperature: 0 };
// Long enough that a request is still running when the test acts on it.
const LONG = { temperature: 0, ignoreEos: true, maxTokens: 400 };

const PROMPTS = [
  'The river keeps moving while the town sleeps.',
  'Every morning the baker opens the shop',
  'Children walk to school in pairs,',
  'The market is loud. Sellers call out prices,',
  'A small boat passes under the bridge',
  'The dog is grey and patient;',
];

/** What a request produced, without the timings that differ between runs. */
const result = (o: RequestOutput) => ({
  requestId: o.requestId,
  promptTokenIds: o.promptTokenIds,
  finished: o.finished,
  outputs: o.outputs.map((c) => ({ index: c.index, text: c.text, tokenIds: c.tokenIds, finishReason: c.finishReason, stopReason: c.stopReason })),
});

async function inProcess(options: EngineOptions, requests: AsyncRequest[]): Promise<Map<string, RequestOutput>> {
  const engine = await LLMEngine.create(options);
  try {
    for (const r of requests) await engine.addRequest(r.id, r.input, r.params ?? {}, { priority: r.priority });
    const done = new Map<string, RequestOutput>();
    while (engine.hasUnfinishedRequests()) for (const o of engine.step()) if (o.finished) done.set(o.requestId, o);
    return done;
  } finally {
    engine.close();
  }
}

async function collect(stream: AsyncIterable<RequestOutput>): Promise<RequestOutput[]> {
  const all: RequestOutput[] = [];
  for await (const o of stream) all.push(o);
  return all;
}

/** Resolves with what the promise rejected with; fails the test if it resolved. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('AsyncEngine', () => {
  let engine: AsyncEngine;
  beforeAll(async () => {
    engine = await AsyncEngine.start({ model, maxModelLen: 512 });
  });
  afterAll(() => engine.shutdown());

  it('resolves each request with the same output as LLMEngine in-process (greedy)', async () => {
    const requests: AsyncRequest[] = PROMPTS.map((input, i) => ({ id: `r${i}`, input, params: { ...GREEDY, maxTokens: 8 + 7 * i } }));
    requests.push({ id: 'ids', input: { promptTokenIds: [896, 40, 41, 42, 43] }, params: { ...GREEDY, maxTokens: 12 } });
    requests.push({ id: 'chat', input: { messages: [{ role: 'user', content: 'Where does the boat go?' }] }, params: { ...GREEDY, maxTokens: 20 } });
    // Parameters built (and checked) on this side cross as their values and are not built again in the worker.
    requests.push({ id: 'built', input: PROMPTS[1], params: samplingParamsFromWire({ temperature: 0, max_tokens: 9, stop: ['zz'] }) });
    const expected = await inProcess({ model, maxModelLen: 512 }, requests);
    expect(engine.modelName).toBe('tiny-llama');
    const got = await Promise.all(requests.map((r) => engine.add(r)));
    expect(got.map(result)).toEqual(requests.map((r) => result(expected.get(r.id)!)));
    expect(got.every((o) => o.finished && o.outputs[0].tokenIds.length > 0)).toBe(true);
  });

  it('streams every step; the deltas concatenate to the final text', async () => {
    const outs = await collect(engine.stream({ id: 's1', input: PROMPTS[0], params: { ...GREEDY, ignoreEos: true, maxTokens: 30 } }));
    const last = outs[outs.length - 1];
    expect(outs.length).toBeGreaterThan(1);
    expect(outs.slice(0, -1).every((o) => !o.finished)).toBe(true);
    expect(last.finished).toBe(true);
    expect(last.outputs[0].tokenIds).toHaveLength(30);
    expect(outs.map((o) => o.outputs[0].delta ?? '').join('')).toBe(last.outputs[0].text);
    // Token ids grow one per decode step: the stream skips no step.
    const lengths = outs.map((o) => o.outputs[0].tokenIds.length);
    expect(lengths).toEqual(lengths.map((_, i) => lengths[0] + i));
  });

  it('never streams text that a stop string then removes', async () => {
    const params = { ...GREEDY, ignoreEos: true, maxTokens: 30, stop: ['ing'] };
    const outs = await collect(engine.stream({ id: 's2', input: PROMPTS[0], params }));
    const last = outs[outs.length - 1].outputs[0];
    expect(last).toMatchObject({ finishReason: 'stop', stopReason: 'ing' });
    expect(last.text).not.toContain('ing');
    expect(outs.map((o) => o.outputs[0].delta ?? '').join('')).toBe(last.text);
    const expected = await inProcess({ model, maxModelLen: 512 }, [{ id: 's2', input: PROMPTS[0], params }]);
    expect(last.text).toBe(expected.get('s2')!.outputs[0].text);
  });

  it('aborts a running request: it rejects with RequestAbortedError and its blocks are freed', async () => {
    const p = engine.add({ id: 'long', input: PROMPTS[1], params: LONG });
    const firstOutput = engine.stream({ id: 'probe', input: PROMPTS[2], params: { ...GREEDY, maxTokens: 3 } });
    await collect(firstOutput); // 'long' has been running for a few steps now
    expect(engine.stats().running).toBe(1);
    engine.abort('long');
    const e = await rejection(p);
    expect(e).toBeInstanceOf(RequestAbortedError);
    expect(e).toMatchObject({ code: 'ABORTED', requestId: 'long' });
    const s = engine.stats();
    expect(s).toMatchObject({ running: 0, waiting: 0, queued: 0, freeBlocks: s.totalBlocks });
    // The id is free again.
    await expect(engine.add({ id: 'long', input: PROMPTS[1], params: { ...GREEDY, maxTokens: 2 } })).resolves.toMatchObject({ finished: true });
  });

  it('aborts a streamed request when the consumer stops reading', async () => {
    for await (const o of engine.stream({ id: 'quit', input: PROMPTS[3], params: LONG })) {
      expect(o.finished).toBe(false);
      break;
    }
    // The abort reached the worker before this request did.
    await engine.add({ id: 'after', input: PROMPTS[4], params: { ...GREEDY, maxTokens: 2 } });
    expect(engine.stats()).toMatchObject({ running: 0, waiting: 0 });
  });

  it('rejects bad requests with the typed error and goes on serving', async () => {
    const bad = await rejection(engine.add({ id: 'bad', input: PROMPTS[0], params: { temperature: -1 } }));
    expect(bad).toBeInstanceOf(InvalidSamplingParamsError);
    expect(bad).toMatchObject({ code: 'INVALID_SAMPLING_PARAMS', param: 'temperature' });
    const tooLong = await rejection(engine.add({ id: 'big', input: { promptTokenIds: new Array(600).fill(40) }, params: GREEDY }));
    expect(tooLong).toBeInstanceOf(RequestRejectedError);
    expect(tooLong).toMatchObject({ code: 'REQUEST_REJECTED', requestId: 'big', reason: 'EXCEEDS_MAX_MODEL_LEN' });
    const running = engine.add({ id: 'dup', input: PROMPTS[0], params: { ...GREEDY, maxTokens: 40 } });
    const dup = await rejection(engine.add({ id: 'dup', input: PROMPTS[1], params: GREEDY }));
    expect(dup).toBeInstanceOf(EngineError);
    expect(dup).toMatchObject({ code: 'DUPLICATE_REQUEST' });
    await expect(running).resolves.toMatchObject({ requestId: 'dup', finished: true });
    expect(engine.stats()).toMatchObject({ running: 0, waiting: 0, queued: 0 });
  });

  it('keeps the caller’s event loop running during a long generation', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      await Promise.all([0, 1, 2, 3].map((i) => engine.add({ id: `busy${i}`, input: PROMPTS[i], params: LONG })));
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(0);
  });
});

describe('AsyncEngine stats', () => {
  it('counts queued, running and waiting requests', async () => {
    const engine = await AsyncEngine.start({ model, maxNumSeqs: 2 });
    try {
      const [first, ...rest] = [0, 1, 2, 3].map((i) => ({ id: `q${i}`, input: PROMPTS[i], params: { ...LONG, maxTokens: 40 } }));
      const stream = engine.stream(first)[Symbol.asyncIterator]();
      const next = stream.next(); // posts q0 first, so it is admitted first and finishes no later than the others
      const others = rest.map((r) => engine.add(r));
      // Nothing is acknowledged before the event loop turns.
      expect(engine.stats().queued).toBe(4);
      let full = false;
      for (let o = await next; !o.done && !o.value.finished; o = await stream.next()) {
        const s = engine.stats();
        expect(s.running).toBeLessThanOrEqual(2);
        expect(s.running + s.waiting + s.swapped + s.queued).toBe(4);
        full ||= s.running === 2 && s.waiting === 2;
      }
      expect(full).toBe(true);
      await Promise.all(others);
      expect(engine.stats()).toMatchObject({ running: 0, waiting: 0, swapped: 0, queued: 0 });
    } finally {
      await engine.shutdown();
    }
  });
});

describe('AsyncEngine start and shutdown', () => {
  it('rejects start() with ModelLoadError for a directory without a model', async () => {
    const e = await rejection(AsyncEngine.start({ model: join(__dirname, 'helpers') }));
    expect(e).toBeInstanceOf(ModelLoadError);
    expect((e as ModelLoadError).code).toMatch(/^MODEL_/);
    expect((e as ModelLoadError).file).toContain('config.json');
  });

  it('rejects start() with InvalidEngineOptionsError naming the option', async () => {
    const e = await rejection(AsyncEngine.start({ model, blockSize: 0 }));
    expect(e).toBeInstanceOf(InvalidEngineOptionsError);
    expect(e).toMatchObject({ code: 'INVALID_ENGINE_OPTIONS', option: 'blockSize' });
  });

  it('shutdown rejects pending work with RequestAbortedError, is idempotent, and refuses later requests', async () => {
    const engine = await AsyncEngine.start({ model });
    const pending = [0, 1, 2].map((i) => engine.add({ id: `p${i}`, input: PROMPTS[i], params: LONG }));
    const first = engine.shutdown();
    const second = engine.shutdown();
    for (const p of pending) expect(await rejection(p)).toBeInstanceOf(RequestAbortedError);
    await Promise.all([first, second]);
    await engine.shutdown();
    const late = await rejection(engine.add({ id: 'late', input: PROMPTS[0] }));
    expect(late).toBeInstanceOf(RequestAbortedError);
  });

  it('a worker that dies rejects what is in flight with EngineError INTERNAL and every later request too', async () => {
    const engine = await AsyncEngine.start({ model });
    // Idle, so the kill cannot land inside a native call: the addon, built without
    // NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS, aborts the whole process then.
    await engine.add({ id: 'warm', input: PROMPTS[1], params: { ...GREEDY, maxTokens: 2 } });
    const dead = (engine as unknown as { worker: Worker }).worker.terminate();
    const inFlight = engine.add({ id: 'x', input: PROMPTS[0], params: LONG });
    await dead;
    const e = await rejection(inFlight);
    expect(e).toBeInstanceOf(EngineError);
    expect(e).toMatchObject({ code: 'INTERNAL' });
    expect(await rejection(engine.add({ id: 'y', input: PROMPTS[0] }))).toMatchObject({ code: 'INTERNAL' });
    expect(engine.stats().queued).toBe(0);
    await engine.shutdown();
  });
});
