import fc from 'fast-check';
import { InvalidEngineOptionsError, RequestRejectedError } from '../src/errors';
import { SchedulerConfig } from '../src/core/scheduler';
import { FakeModelLoop, FakeRequest, runAlone } from './helpers/fake-model-loop';

const base: SchedulerConfig = { blockSize: 4, numBlocks: 64, maxNumSeqs: 8, maxNumBatchedTokens: 32, maxModelLen: 256 };
const range = (n: number, start = 0) => Array.from({ length: n }, (_, i) => (start + i) % 50);

function expectAloneOutputs(loop: FakeModelLoop, requests: FakeRequest[]): void {
  for (const r of requests) expect({ id: r.id, out: loop.outputs.get(r.id) }).toEqual({ id: r.id, out: runAlone(loop.config, r) });
}

describe('Scheduler', () => {
  it('keeps every step within the token budget and the sequence limit, and frees everything at the end', () => {
    const loop = new FakeModelLoop(base);
    const requests = Array.from({ length: 20 }, (_, i) => ({ id: `r${i}`, prompt: range(3 + ((i * 7) % 40), i), params: { maxTokens: 1 + ((i * 3) % 9) } }));
    requests.forEach((r) => loop.add(r));
    loop.run();
    for (const s of loop.steps) {
      expect(s.numBatchedTokens).toBeLessThanOrEqual(base.maxNumBatchedTokens);
      expect(s.scheduled.length).toBeLessThanOrEqual(base.maxNumSeqs);
      expect(s.scheduled.length).toBeGreaterThan(0);
    }
    // Continuous batching: new requests' prefills share steps with running decodes.
    const mixed = loop.phases.filter((p) => p.includes('decode') && p.includes('prefill'));
    expect(mixed.length).toBeGreaterThan(5);
    expect(Math.max(...loop.steps.map((s) => s.scheduled.length))).toBeGreaterThanOrEqual(5);
    expectAloneOutputs(loop, requests);
    expect(loop.scheduler.stats()).toMatchObject({ waiting: 0, running: 0, swapped: 0, freeBlocks: 64, numPreemptions: 0 });
  });

  it('prefills a long prompt in chunks while running decodes go on every step', () => {
    const loop = new FakeModelLoop({ ...base, maxNumBatchedTokens: 16 });
    loop.add({ id: 'short', prompt: range(5), params: { maxTokens: 30 } });
    loop.step(1);
    const long = loop.add({ id: 'long', prompt: range(100, 7), params: { maxTokens: 2 } });
    let chunks = 0;
    for (let step = 2; long.seqs[0].numComputedTokens < 100; step++) {
      const out = loop.step(step);
      const names = out.scheduled.map((s) => s.seq.group.requestId);
      expect(names).toContain('short');
      const longChunk = out.scheduled.find((s) => s.seq.group.requestId === 'long');
      expect(longChunk!.numTokens).toBeLessThanOrEqual(15);
      expect(out.numBatchedTokens).toBeLessThanOrEqual(16);
      chunks++;
    }
    expect(chunks).toBeGreaterThanOrEqual(7);
    loop.run();
    expectAloneOutputs(loop, [{ id: 'short', prompt: range(5), params: { maxTokens: 30 } }, { id: 'long', prompt: range(100, 7), params: { maxTokens: 2 } }]);
  });

  it.each(['recompute', 'swap'] as const)('preempts by %s when blocks run out; preempted requests produce exactly their alone outputs', (mode) => {
    const loop = new FakeModelLoop({ ...base, numBlocks: 16, numHostBlocks: mode === 'swap' ? 64 : 0, preemptionMode: mode });
    const requests: FakeRequest[] = Array.from({ length: 8 }, (_, i) => ({
      id: `r${i}`, prompt: range(6 + i, i * 5), params: { maxTokens: 20, n: i % 3 === 0 ? 2 : 1, seed: i, temperature: 0.8 },
    }));
    requests.forEach((r) => loop.add(r));
    let sawSwapped = false;
    let n = 0;
    while (loop.scheduler.hasUnfinished()) {
      const out = loop.step(++n);
      if (mode === 'swap' && out.blocksToSwapOut.length > 0) sawSwapped = true;
      expect(out.blocksToSwapOut.length > 0 && out.blocksToSwapIn.length > 0).toBe(false);
    }
    expect(loop.scheduler.stats().numPreemptions).toBeGreaterThan(0);
    if (mode === 'swap') expect(sawSwapped).toBe(true);
    expectAloneOutputs(loop, requests);
    expect(loop.scheduler.stats()).toMatchObject({ freeBlocks: 16, blocks: { freeHostBlocks: mode === 'swap' ? 64 : 0 } });
  });

  it('serves shared prompt prefixes from the cache and skips their prefill', () => {
    const loop = new FakeModelLoop({ ...base, enablePrefixCaching: true });
    const stem = range(24, 3);
    loop.add({ id: 'first', prompt: [...stem, 1], params: { maxTokens: 2 } });
    loop.run();
    const second = loop.add({ id: 'second', prompt: [...stem, 2, 3], params: { maxTokens: 2 } });
    const out = loop.step(100);
    expect(second.numCachedPromptTokens).toBe(24);
    expect(out.scheduled[0].numTokens).toBe(2);
    loop.run();
    expect(loop.scheduler.stats().prefixCacheHitRate).toBeCloseTo(24 / (25 + 26));
    expectAloneOutputs(loop, [{ id: 'second', prompt: [...stem, 2, 3], params: { maxTokens: 2 } }]);
  });

  it('computes the prompt of an n > 1 request once and forks the samples onto its blocks', () => {
    const loop = new FakeModelLoop({ ...base, enablePrefixCaching: false });
    const group = loop.add({ id: 'n4', prompt: range(22), params: { n: 4, maxTokens: 5, seed: 7, temperature: 1 } });
    const first = loop.step(1);
    expect(first.scheduled).toHaveLength(1);
    expect(first.scheduled[0].sampleFor).toEqual(group.seqs);
    expect(first.numBatchedTokens).toBe(22);
    // 22 tokens = 6 blocks of 4, shared by 3 forks; the partial last block is copied by 3 of the 4 writers.
    expect(loop.scheduler.stats().blocks).toMatchObject({ forkSharedBlocks: 18, sharedBlocks: 6 });
    loop.step(2);
    expect(loop.scheduler.stats().blocks).toMatchObject({ copyOnWrites: 3, sharedBlocks: 5 });
    loop.run();
    const outs = loop.outputs.get('n4')!;
    expect(new Set(outs.map((o) => o.join(','))).size).toBeGreaterThan(1);
    expectAloneOutputs(loop, [{ id: 'n4', prompt: range(22), params: { n: 4, maxTokens: 5, seed: 7, temperature: 1 } }]);
  });

  it('runs higher priority first and equal priorities first come, first served', () => {
    const loop = new FakeModelLoop({ ...base, maxNumSeqs: 1 });
    loop.add({ id: 'low', prompt: range(4), params: { maxTokens: 3 }, priority: 5 });
    loop.add({ id: 'a', prompt: range(4, 1), params: { maxTokens: 3 }, priority: 0 });
    loop.add({ id: 'b', prompt: range(4, 2), params: { maxTokens: 3 }, priority: 0 });
    loop.run();
    const order = ['low', 'a', 'b'].sort((x, y) => loop.finishedAtStep.get(x)! - loop.finishedAtStep.get(y)!);
    expect(order).toEqual(['a', 'b', 'low']);
  });

  it('ages waiting requests so a low priority one is not starved by a stream of high priority ones', () => {
    const starve = (agingSteps: number) => {
      const loop = new FakeModelLoop({ ...base, maxNumSeqs: 1, agingSteps });
      loop.add({ id: 'low', prompt: range(4), params: { maxTokens: 1 }, priority: 3 });
      for (let step = 1; step <= 100 && !loop.outputs.has('low'); step++) {
        loop.add({ id: `high${step}`, prompt: range(4, step), params: { maxTokens: 1 }, priority: 0 });
        loop.step(step);
      }
      return loop.finishedAtStep.get('low');
    };
    expect(starve(1_000_000)).toBeUndefined();
    const done = starve(5);
    expect(done).toBeDefined();
    expect(done!).toBeLessThanOrEqual(20);
  });

  it('rejects requests that can never run with a typed error and goes on', () => {
    const loop = new FakeModelLoop({ ...base, numBlocks: 8, maxModelLen: 40 });
    const reject = (r: FakeRequest) => {
      try {
        loop.add(r);
      } catch (e) {
        expect(e).toBeInstanceOf(RequestRejectedError);
        return e as RequestRejectedError;
      }
      throw new Error('not rejected');
    };
    expect(reject({ id: 'long', prompt: range(30), params: { maxTokens: 11 } })).toMatchObject({
      requestId: 'long', reason: 'EXCEEDS_MAX_MODEL_LEN', message: expect.stringMatching(/prompt \(30 tokens\) \+ maxTokens \(11\) = 41 exceeds the max model length 40/),
    });
    expect(reject({ id: 'wide', prompt: range(10), params: { maxTokens: 10, n: 3 } })).toMatchObject({ reason: 'CANNOT_FIT_IN_CACHE' });
    expect(reject({ id: 'empty', prompt: [] })).toMatchObject({ reason: 'EMPTY_PROMPT' });
    loop.add({ id: 'ok', prompt: range(10), params: { maxTokens: 20 } });
    loop.run();
    expect(loop.outputs.get('ok')![0]).toHaveLength(20);
  });

  it('aborts a request wherever it is and frees its blocks', () => {
    const loop = new FakeModelLoop({ ...base, numBlocks: 12, numHostBlocks: 32, preemptionMode: 'swap' });
    for (let i = 0; i < 4; i++) loop.add({ id: `r${i}`, prompt: range(10, i), params: { maxTokens: 30 } });
    for (let step = 1; loop.scheduler.stats().swapped === 0; step++) loop.step(step);
    for (let i = 0; i < 4; i++) expect(loop.scheduler.abortSeqGroup(`r${i}`)).toBe(true);
    expect(loop.scheduler.abortSeqGroup('r0')).toBe(false);
    expect(loop.scheduler.hasUnfinished()).toBe(false);
    expect(loop.scheduler.stats()).toMatchObject({ freeBlocks: 12, blocks: { freeHostBlocks: 32 } });
  });

  it('rejects options that cannot work', () => {
    expect(() => new FakeModelLoop({ ...base, blockSize: 0 })).toThrow(InvalidEngineOptionsError);
    expect(() => new FakeModelLoop({ ...base, maxNumBatchedTokens: 4 })).toThrow(/maxNumBatchedTokens: must be >= maxNumSeqs \(8\) .*got 4/);
    expect(() => new FakeModelLoop({ ...base, preemptionMode: 'swap' })).toThrow(/numHostBlocks/);
  });

  it('gives every request its alone output under random workloads, caches, budgets and preemption modes', () => {
    const request = fc.record({
      stem: fc.nat(2), len: fc.integer({ min: 1, max: 30 }), maxTokens: fc.integer({ min: 1, max: 12 }),
      n: fc.integer({ min: 1, max: 3 }), priority: fc.integer({ min: 0, max: 2 }), at: fc.nat(6),
    });
    const seen = { preemptions: 0, hits: 0 };
    fc.assert(
      fc.property(
        fc.array(request, { minLength: 1, maxLength: 12 }),
        fc.record({
          blockSize: fc.integer({ min: 1, max: 8 }), numBlocks: fc.integer({ min: 40, max: 120 }), maxNumSeqs: fc.integer({ min: 1, max: 8 }),
          extraBudget: fc.nat(24), caching: fc.boolean(), swap: fc.boolean(),
        }),
        (reqs, o) => {
          const config: SchedulerConfig = {
            blockSize: o.blockSize, numBlocks: o.numBlocks, maxNumSeqs: Math.max(o.maxNumSeqs, 3), maxNumBatchedTokens: Math.max(o.maxNumSeqs, 3) + o.extraBudget,
            maxModelLen: 64, enablePrefixCaching: o.caching, preemptionMode: o.swap ? 'swap' : 'recompute', numHostBlocks: o.swap ? 200 : 0, agingSteps: 4,
          };
          const loop = new FakeModelLoop(config);
          const all: FakeRequest[] = reqs.map((r, i) => ({
            id: `r${i}`, prompt: [...range(8 * r.stem, 10 * r.stem), ...range(r.len, i)].slice(0, 40),
            params: { maxTokens: r.maxTokens, n: r.n, seed: i, temperature: r.n > 1 ? 1 : 0 }, priority: r.priority,
          }));
          const accepted: FakeRequest[] = [];
          // Requests arrive over the first steps, some while others run.
          for (let step = 1; step <= 10_000 && (step <= 7 || loop.scheduler.hasUnfinished()); step++) {
            reqs.forEach((r, i) => {
              if (r.at !== step - 1) return;
              try {
                loop.add(all[i]);
                accepted.push(all[i]);
              } catch (e) {
                if (!(e instanceof RequestRejectedError)) throw e;
              }
            });
            if (loop.scheduler.hasUnfinished()) {
              const out = loop.step(step);
              if (out.numBatchedTokens > config.maxNumBatchedTokens || out.scheduled.length > config.maxNumSeqs) throw new Error(`step ${step} over budget`);
            }
          }
          expectAloneOutputs(loop, accepted);
          const stats = loop.scheduler.stats();
          expect(stats).toMatchObject({ freeBlocks: config.numBlocks, waiting: 0, running: 0, swapped: 0 });
          seen.preemptions += stats.numPreemptions;
          seen.hits += stats.blocks.prefixHitTokens;
        },
      ),
      {
        numRuns: 150,
        // Found by a random run: an n = 3 group copies-on-write for its first sequence, then preempts itself (swap).
        examples: [[
          [{ stem: 0, len: 1, maxTokens: 2, n: 3, priority: 1, at: 3 }, { stem: 2, len: 21, maxTokens: 11, n: 1, priority: 2, at: 0 },
            { stem: 0, len: 22, maxTokens: 6, n: 1, priority: 1, at: 2 }, { stem: 1, len: 19, maxTokens: 1, n: 1, priority: 0, at: 5 },
            { stem: 2, len: 1, maxTokens: 11, n: 2, priority: 0, at: 2 }],
          { blockSize: 2, numBlocks: 46, maxNumSeqs: 6, extraBudget: 17, caching: true, swap: true },
        ]],
      },
    );
    // The random workloads did exercise preemption and prefix caching.
    expect(seen.preemptions).toBeGreaterThan(0);
    expect(seen.hits).toBeGreaterThan(0);
  });
});
