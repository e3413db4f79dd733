import { LLMEngine } from '../src/frontend/llm-engine';
import type { RequestOutput } from '../src/outputs';
import { tinyModel } from './helpers/tiny-models';

// Compiles run on the grammar thread (a built file: the engine's test target builds first).
const MODEL = tinyModel('tiny-llama');
const LIMIT_MS = 1000;
// 200 string fields with patterns: XGrammar takes about 48 s on the tiny vocabulary here, far past the limit.
const SLOW_SCHEMA = {
  type: 'object',
  properties: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`field_${i}`, { type: 'string', pattern: `^[a-z]{${i % 7},${10 + (i % 5)}}$` }])),
};
const RECORD = { type: 'object', properties: { ok: { type: 'boolean' }, n: { type: 'integer', minimum: 0, maximum: 9 } }, required: ['ok', 'n'] };

const turn = () => new Promise((r) => setImmediate(r));

describe.each([1, 2])('grammar compiles on their own threads (%i), bounded in time', (grammarThreads) => {
  let engine: LLMEngine;

  beforeAll(async () => {
    engine = await LLMEngine.create({ model: MODEL, maxNumSeqs: 16, numBlocks: 512, grammarCompileTimeoutMs: LIMIT_MS, grammarThreads });
  });

  afterAll(() => engine.close());

  it('a compile past the limit fails its request alone; no step waits for it; the thread restarts and serves the rest', async () => {
    const done = new Map<string, RequestOutput>();
    const collect = () => {
      for (const o of engine.step()) if (o.finished) done.set(o.requestId, o);
    };
    // A constrained request already running when the slow compile starts: its matcher must survive the restart.
    await engine.addRequest('early', 'hi', { guidedChoice: ['abcdefgh'], temperature: 0, maxTokens: 32 });
    collect();
    let settled = false;
    const slowStart = performance.now();
    const slow = engine.addRequest('slow', 'hi', { guidedJson: SLOW_SCHEMA, maxTokens: 8 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    void slow.then(() => (settled = true));
    // Not held back by the compile before it: it joins the line at once.
    await engine.addRequest('free', 'hello', { temperature: 0, ignoreEos: true, maxTokens: 48 });
    const stepMs: number[] = [];
    let stalled = 0;
    while (!settled) {
      const t = performance.now();
      collect();
      stepMs.push(performance.now() - t);
      // Once 'free' is done only 'early' is left, and it waits for the grammar thread: a loop may sleep on that.
      if (engine.stalledOnGrammar()) stalled++;
      await turn();
    }
    const err = await slow;
    expect(err).toMatchObject({ code: 'INVALID_STRUCTURED_OUTPUT' });
    expect((err as Error).message).toContain(`did not compile within ${LIMIT_MS} ms`);
    expect(performance.now() - slowStart).toBeGreaterThanOrEqual(LIMIT_MS - 5);
    // The unconstrained request ran to its end while the grammar thread was busy; no step took a compile's time.
    expect(done.get('free')?.outputs[0]).toMatchObject({ finishReason: 'length' });
    expect(done.get('free')!.outputs[0].tokenIds).toHaveLength(48);
    expect(Math.max(...stepMs)).toBeLessThan(LIMIT_MS / 2);
    expect(stalled).toBeGreaterThan(0);
    expect(done.has('early')).toBe(false);

    await engine.addRequest('after', 'go', { guidedJson: RECORD, temperature: 1, seed: 3, maxTokens: 64 });
    while (engine.hasUnfinishedRequests()) {
      collect();
      await engine.stalledOnGrammar();
    }
    // The running request's matcher was replayed in the new thread; a new constraint compiles there too.
    expect(done.get('early')!.outputs[0]).toMatchObject({ text: 'abcdefgh', finishReason: 'stop' });
    const after = done.get('after')!.outputs[0];
    expect(after.finishReason).toBe('stop');
    expect(JSON.parse(after.text)).toEqual({ ok: expect.any(Boolean) as boolean, n: expect.any(Number) as number });
    expect(engine.stats().grammar).toMatchObject({ threads: grammarThreads, timeouts: 1, restarts: 1 });
  }, 60_000);

  it('the same slow constraint fails at once the second time (the failure is cached), without another restart', async () => {
    const t = performance.now();
    await expect(engine.addRequest('slow2', 'hi', { guidedJson: SLOW_SCHEMA })).rejects.toMatchObject({ code: 'INVALID_STRUCTURED_OUTPUT' });
    expect(performance.now() - t).toBeLessThan(LIMIT_MS / 2);
    expect(engine.stats().grammar).toMatchObject({ timeouts: 1, restarts: 1 });
  });

  it('masks are filled on the grammar thread: its fill time is counted apart from the engine thread waiting for it', async () => {
    const before = engine.stats().grammar!;
    for (let i = 0; i < 8; i++) await engine.addRequest(`m${i}`, 'x', { guidedJson: RECORD, temperature: 1, seed: i, maxTokens: 32 });
    while (engine.hasUnfinishedRequests()) engine.step();
    const after = engine.stats().grammar!;
    expect(after.maskFillMs).toBeGreaterThan(before.maskFillMs);
    expect(after.maskWaitMs).toBeGreaterThanOrEqual(before.maskWaitMs);
  });

  it('rejects a compile limit that is not a positive integer', async () => {
    await expect(LLMEngine.create({ model: MODEL, grammarCompileTimeoutMs: 0 })).rejects.toMatchObject({ code: 'INVALID_ENGINE_OPTIONS', option: 'grammarCompileTimeoutMs' });
  });
});

describe('the async engine while its grammar thread compiles', () => {
  it('steps a request added during the compile at once, though every running request waits for the grammar', async () => {
    // The worker is a compiled file, like async-engine.test.ts's.
    const { AsyncEngine } = await import('../dist');
    const engine = await AsyncEngine.start({ model: MODEL, maxNumSeqs: 8, numBlocks: 512, grammarCompileTimeoutMs: 3000 });
    try {
      // Constrained and long (minTokens holds its end back), so it is still running when the slow compile starts.
      const early = engine.add({ id: 'early', input: 'hi', params: { guidedRegex: '[a-z]+', minTokens: 200, maxTokens: 200, temperature: 0 } });
      let slowSettled = false;
      const slow = engine.add({ id: 'slow', input: 'hi', params: { guidedJson: SLOW_SCHEMA } }).then(
        () => undefined,
        (e: unknown) => e,
      );
      void slow.then(() => (slowSettled = true));
      await new Promise((r) => setTimeout(r, 300));
      const free = await engine.add({ id: 'free', input: 'hello', params: { temperature: 0, ignoreEos: true, maxTokens: 16 } });
      // Done while the compile still runs: the engine did not wait for the grammar thread to step it.
      expect(slowSettled).toBe(false);
      expect(free.outputs[0].tokenIds).toHaveLength(16);
      expect(await slow).toMatchObject({ code: 'INVALID_STRUCTURED_OUTPUT' });
      const out = (await early).outputs[0];
      expect(out.finishReason).toBe('length');
      expect(out.text).toMatch(/^[a-z]+$/);
    } finally {
      await engine.shutdown();
    }
  }, 60_000);
});
