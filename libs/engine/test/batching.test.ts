import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EngineOptions } from '../src/config';
import { LLMEngine } from '../src/frontend/llm-engine';
import { InvalidSamplingParamsError, RequestAbortedError, RequestRejectedError } from '../src/errors';
import type { RequestOutput } from '../src/outputs';
import type { PromptInput } from '../src/prompt-input';
import type { SamplingParamsInit } from '../src/sampling-params';
import { tinyModel } from './helpers/tiny-models';

const MODEL = tinyModel('tiny-gqa');
const CORPUS = readFileSync(join(__dirname, '..', 'scripts', 'tiny-corpus.txt'), 'utf8');

interface Req {
  id: string;
  input: PromptInput;
  params: SamplingParamsInit;
}

// 64 requests: prompts of 1 to ~120 tokens (some sharing long prefixes), 1-24 new tokens, stop strings,
// greedy and seeded sampling, n = 2, penalties.
function mixedRequests(): Req[] {
  return Array.from({ length: 64 }, (_, i) => {
    const start = (i * 131) % 2000;
    const len = [1, 7, 40, 90, 200, 400][i % 6];
    const text = i % 5 === 0 ? CORPUS.slice(0, len) : CORPUS.slice(start, start + len);
    const params: SamplingParamsInit = { temperature: 0, maxTokens: 1 + ((i * 7) % 24), ignoreEos: i % 3 !== 0 };
    if (i % 4 === 1) Object.assign(params, { temperature: 0.8, topP: 0.9, seed: 1000 + i });
    if (i % 4 === 3) params.stop = ['th', 'e,', 'o'];
    if (i % 16 === 5) Object.assign(params, { repetitionPenalty: 1.3, frequencyPenalty: 0.5 });
    if (i % 10 === 7) Object.assign(params, { n: 2, temperature: 0.9, seed: 500 + i });
    return { id: `r${i}`, input: i % 7 === 6 ? { prompt: text } : text, params };
  });
}

/** Adds the requests (the second half after a few steps, as arrivals), steps until all are done; final outputs by id. */
async function runAll(engine: LLMEngine, reqs: Req[], onStep?: () => void): Promise<Map<string, RequestOutput>> {
  const done = new Map<string, RequestOutput>();
  const step = () => {
    for (const o of engine.step()) if (o.finished) done.set(o.requestId, o);
    onStep?.();
  };
  const half = Math.ceil(reqs.length / 2);
  for (const r of reqs.slice(0, half)) await engine.addRequest(r.id, r.input, r.params);
  for (let i = 0; i < 3; i++) step();
  for (const r of reqs.slice(half)) await engine.addRequest(r.id, r.input, r.params);
  while (engine.hasUnfinishedRequests()) step();
  return done;
}

const essence = (o: RequestOutput) => o.outputs.map((c) => ({ tokens: c.tokenIds, text: c.text, finish: c.finishReason, stop: c.stopReason }));

describe('continuous batching', () => {
  const reqs = mixedRequests();
  const alone = new Map<string, ReturnType<typeof essence>>();
  const engines: LLMEngine[] = [];
  const create = async (o: Partial<EngineOptions>) => {
    const e = await LLMEngine.create({ model: MODEL, ...o });
    engines.push(e);
    return e;
  };

  beforeAll(async () => {
    const solo = await create({ enablePrefixCaching: false });
    for (const r of reqs) alone.set(r.id, essence((await runAll(solo, [r])).get(r.id)!));
  });
  afterAll(() => engines.forEach((e) => e.close()));

  it.each<[string, Partial<EngineOptions>]>([
    ['prefix caching on', { enablePrefixCaching: true }],
    ['prefix caching off', { enablePrefixCaching: false }],
    ['a tiny cache forcing recompute preemption', { numBlocks: 24, preemptionMode: 'recompute', maxNumBatchedTokens: 96 }],
    ['a tiny cache forcing swap preemption', { numBlocks: 24, preemptionMode: 'swap', maxNumBatchedTokens: 96 }],
    ['async scheduling (each step planned and launched before the previous one is read)', { asyncScheduling: true }],
    ['async scheduling and a tiny cache', { asyncScheduling: true, numBlocks: 24, maxNumBatchedTokens: 96 }],
  ])('64 mixed requests together give each the output it gets alone, with %s', async (_name, options) => {
    const engine = await create(options);
    let minFreeHost = Infinity;
    const together = await runAll(engine, reqs, () => (minFreeHost = Math.min(minFreeHost, engine.stats().blocks.freeHostBlocks)));
    for (const r of reqs) expect({ id: r.id, out: essence(together.get(r.id)!) }).toEqual({ id: r.id, out: alone.get(r.id) });
    // The mix really exercises stop strings and eos, not only length limits.
    expect([...together.values()].some((o) => typeof o.outputs[0].stopReason === 'string')).toBe(true);
    const s = engine.stats();
    if (options.numBlocks) expect(s.numPreemptions).toBeGreaterThan(0);
    if (options.preemptionMode === 'swap') {
      // Blocks really went to the host pool and all came back.
      expect(minFreeHost).toBeLessThan(s.blocks.numHostBlocks);
      expect(s.blocks.freeHostBlocks).toBe(s.blocks.numHostBlocks);
    }
    if (options.enablePrefixCaching) expect(s.prefixCacheHitRate).toBeGreaterThan(0);
    if (options.asyncScheduling) expect(s.stepsScheduledAhead).toBeGreaterThan(0);
    else expect(s.stepsScheduledAhead).toBe(0);
    expect(s.freeBlocks).toBe(s.totalBlocks);
    expect(s.meanKvWaste).toBeGreaterThan(0);
    expect(s.meanKvWaste).toBeLessThan(1);
    expect(s.numRequests).toBe(0);
    expect(s.generationTokensTotal).toBe([...together.values()].reduce((n, o) => n + o.usage.completionTokens, 0));
  });

  it('async scheduling plans every step ahead unless a running request needs the tokens on the host first', async () => {
    const engine = await create({ asyncScheduling: true });
    const greedy = reqs.filter((r) => !r.params.repetitionPenalty).slice(0, 12);
    const done = await runAll(engine, greedy);
    for (const r of greedy) expect(essence(done.get(r.id)!)).toEqual(alone.get(r.id));
    const s = engine.stats();
    // Only the first step of each burst of arrivals, and steps that found too few free blocks, wait.
    expect(s.stepsScheduledAhead).toBeGreaterThanOrEqual(s.stepCount - 3);
    const before = s.stepsScheduledAhead;
    await runAll(engine, [{ id: 'pen', input: 'The river', params: { temperature: 0, maxTokens: 8, repetitionPenalty: 1.3, ignoreEos: true } }]);
    // Penalties count this step's tokens, so each step is read before the next is planned.
    expect(engine.stats().stepsScheduledAhead).toBe(before);
  });

  it('n > 1 with a seed is reproducible, and the n sequences share the prompt blocks', async () => {
    const engine = await create({});
    const params = { n: 4, temperature: 1, seed: 7, maxTokens: 12, ignoreEos: true };
    const prompt = CORPUS.slice(0, 300);
    await engine.addRequest('n4', prompt, params);
    let sharedSeen = 0;
    let first: RequestOutput | undefined;
    while (engine.hasUnfinishedRequests()) {
      for (const o of engine.step()) if (o.finished) first = o;
      sharedSeen = Math.max(sharedSeen, engine.stats().blocks.sharedBlocks);
    }
    const promptBlocks = Math.floor(first!.promptTokenIds.length / 16);
    // Every full prompt block is held by all four sequences at once, never copied.
    expect(sharedSeen).toBeGreaterThanOrEqual(promptBlocks);
    expect(engine.stats().blocks.forkSharedBlocks).toBeGreaterThanOrEqual(3 * promptBlocks);
    expect(first!.outputs).toHaveLength(4);
    expect(new Set(first!.outputs.map((c) => c.tokenIds.join(','))).size).toBeGreaterThan(1);
    const again = (await runAll(engine, [{ id: 'n4-again', input: prompt, params }])).get('n4-again')!;
    expect(essence(again)).toEqual(essence(first!));
  });

  it('bestOf > n returns the n sequences with the highest cumulative logprob', async () => {
    const engine = await create({});
    const out = (await runAll(engine, [{ id: 'b', input: 'The river', params: { n: 2, bestOf: 5, temperature: 1, seed: 3, maxTokens: 6, ignoreEos: true } }])).get('b')!;
    expect(out.outputs.map((c) => c.index)).toEqual([0, 1]);
    expect(out.outputs[0].cumulativeLogprob!).toBeGreaterThanOrEqual(out.outputs[1].cumulativeLogprob!);
    const all = (await runAll(engine, [{ id: 'all', input: 'The river', params: { n: 5, temperature: 1, seed: 3, maxTokens: 6, ignoreEos: true, logprobs: 0 } }])).get('all')!;
    const best = all.outputs.map((c) => c.cumulativeLogprob!).sort((a, b) => b - a).slice(0, 2);
    expect(out.outputs.map((c) => c.cumulativeLogprob)).toEqual(best);
  });

  it('abort mid-run frees the blocks at once and reports finishReason abort', async () => {
    const engine = await create({});
    for (const r of reqs.slice(0, 6)) await engine.addRequest(r.id, r.input, { ...r.params, maxTokens: 20 });
    for (let i = 0; i < 3; i++) engine.step();
    const before = engine.stats().freeBlocks;
    const aborted = engine.abortRequest('r3')!;
    expect(aborted.finished).toBe(true);
    expect(aborted.outputs.every((c) => c.finishReason === 'abort')).toBe(true);
    expect(engine.stats().freeBlocks).toBeGreaterThan(before);
    expect(engine.abortRequest('r3')).toBeUndefined();
    expect(engine.abortRequest('never-added')).toBeUndefined();
    for (const r of reqs.slice(0, 6)) engine.abortRequest(r.id);
    expect(engine.hasUnfinishedRequests()).toBe(false);
    expect(engine.stats().freeBlocks).toBe(engine.stats().totalBlocks);
    expect(engine.step()).toEqual([]);
  });

  it('tokenizes prompts side by side but admits them in the order they were added; an abort while tokenizing wins', async () => {
    const engine = await create({ maxNumSeqs: 1 });
    const long = CORPUS.repeat(3);
    const first = engine.addRequest('first', long.slice(0, 1500), { temperature: 0, maxTokens: 3, ignoreEos: true });
    const second = engine.addRequest('second', { promptTokenIds: [5, 6, 7] }, { temperature: 0, maxTokens: 3, ignoreEos: true });
    const gone = engine.addRequest('gone', long, { maxTokens: 3 });
    expect(engine.abortRequest('gone')).toBeUndefined();
    await expect(gone).rejects.toBeInstanceOf(RequestAbortedError);
    await Promise.all([first, second]);
    const order: string[] = [];
    while (engine.hasUnfinishedRequests()) for (const o of engine.step()) if (o.finished) order.push(o.requestId);
    expect(order).toEqual(['first', 'second']);
    expect(engine.stats()).toMatchObject({ numRequests: 0, freeBlocks: engine.stats().totalBlocks });
  });

  it('rejects a request that can never run with RequestRejectedError and goes on with the others', async () => {
    const engine = await create({ maxModelLen: 256, numBlocks: 12 });
    await engine.addRequest('ok', 'The river', { temperature: 0, maxTokens: 5, ignoreEos: true });
    const reject = async (id: string, input: PromptInput, params: SamplingParamsInit) => {
      try {
        await engine.addRequest(id, input, params);
      } catch (e) {
        return e;
      }
      return undefined;
    };
    const tooLong = await reject('long', CORPUS.slice(0, 200), { maxTokens: 240 });
    expect(tooLong).toBeInstanceOf(RequestRejectedError);
    expect(tooLong).toMatchObject({ code: 'REQUEST_REJECTED', reason: 'EXCEEDS_MAX_MODEL_LEN', requestId: 'long' });
    const tooBig = await reject('big', 'The river', { n: 8, maxTokens: 200, temperature: 1 });
    expect(tooBig).toMatchObject({ reason: 'CANNOT_FIT_IN_CACHE' });
    expect(engine.stats().numRequests).toBe(1);
    const out = (await runAll(engine, [])).get('ok')!;
    expect(out.outputs[0].tokenIds).toHaveLength(5);
    // The rejected ids were never taken: they can be added again with parameters that fit.
    await engine.addRequest('long', CORPUS.slice(0, 200), { maxTokens: 4 });
    expect((await runAll(engine, [])).get('long')!.finished).toBe(true);
  });

  it('rejects invalid requests with typed errors and leaves the engine unchanged', async () => {
    const engine = await create({});
    await engine.addRequest('x', 'The river', { temperature: 0, maxTokens: 2 });
    await expect(engine.addRequest('x', 'again', {})).rejects.toThrow(expect.objectContaining({ code: 'DUPLICATE_REQUEST' }));
    await expect(engine.addRequest('y', { promptTokenIds: [1, 100000] }, {})).rejects.toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
    await expect(engine.addRequest('y', { promptTokenIds: [1.5] }, {})).rejects.toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
    await expect(engine.addRequest('y', 'hi', { logprobs: 21 })).rejects.toThrow(InvalidSamplingParamsError);
    await expect(engine.addRequest('y', 'hi', { temperature: -1 })).rejects.toThrow(expect.objectContaining({ code: 'INVALID_SAMPLING_PARAMS', param: 'temperature' }));
    expect(engine.stats().numRequests).toBe(1);
    expect((await runAll(engine, [])).get('x')!.outputs[0].tokenIds).toHaveLength(2);
  });

  it('a request sharing a prefix reports cached prompt tokens and the same output', async () => {
    const engine = await create({ enablePrefixCaching: true });
    const prefix = CORPUS.slice(0, 500);
    const params = { temperature: 0, maxTokens: 8, ignoreEos: true };
    const a = (await runAll(engine, [{ id: 'a', input: prefix + ' one', params }])).get('a')!;
    expect(a.usage.cachedPromptTokens).toBe(0);
    const b = (await runAll(engine, [{ id: 'b', input: prefix + ' two', params }])).get('b')!;
    expect(b.usage.cachedPromptTokens).toBeGreaterThan(0);
    expect(b.usage.cachedPromptTokens % 16).toBe(0);
    const cold = await create({ enablePrefixCaching: false });
    const bCold = (await runAll(cold, [{ id: 'b', input: prefix + ' two', params }])).get('b')!;
    expect(bCold.usage.cachedPromptTokens).toBe(0);
    expect(essence(b)).toEqual(essence(bCold));
  });
});
