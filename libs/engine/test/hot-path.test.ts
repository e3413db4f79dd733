// What one decode step asks of the backend, counted on the CPU backend the engine uses in this thread: the
// host→device bytes, the device→host reads and the views it makes. Counts, not timings: they show whether host
// work follows the batch (as it must) or the context length and maxModelLen (as it must not).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getBackend, type HostArray } from '@sluice/cuda-kernels';
import { LLMEngine } from '../src/frontend/llm-engine';
import type { SamplingParamsInit } from '../src/sampling-params';
import { tinyModel } from './helpers/tiny-models';

interface StepCounts {
  h2dBytes: number;
  reads: number;
  /** View-making calls between the first and the last layer's fused QKV op. */
  viewsInsideLayers: number;
  ops: string[];
}

// Shadows the singleton's methods with counting wrappers for the duration of fn.
function counting<T>(fn: (counts: () => StepCounts, reset: () => void) => T): T {
  const b = getBackend('cpu') as unknown as Record<string, unknown>;
  const names = ['copyFromHost', 'toHost', 'narrow', 'view', 'splitQkvRotaryCache', 'gemm', 'sample'] as const;
  let c: StepCounts = { h2dBytes: 0, reads: 0, viewsInsideLayers: 0, ops: [] };
  const reset = () => (c = { h2dBytes: 0, reads: 0, viewsInsideLayers: 0, ops: [] });
  for (const name of names) {
    const real = (b[name] as (...a: unknown[]) => unknown).bind(b);
    // Own properties shadow the addon's (read-only) prototype methods until they are deleted again.
    Object.defineProperty(b, name, { configurable: true, writable: true, value: (...args: unknown[]) => {
      if (name === 'copyFromHost') c.h2dBytes += (args[1] as HostArray).byteLength;
      if (name === 'toHost') c.reads++;
      c.ops.push(name);
      return real(...args);
    } });
  }
  try {
    return fn(() => {
      const first = c.ops.indexOf('splitQkvRotaryCache');
      const last = c.ops.lastIndexOf('splitQkvRotaryCache');
      c.viewsInsideLayers = c.ops.slice(first, last).filter((o) => o === 'narrow' || o === 'view').length;
      return c;
    }, reset);
  } finally {
    for (const name of names) delete b[name];
  }
}

// Counts of the 4th decode step of `batch` greedy sequences whose prompts hold `context` tokens.
async function decodeStep(batch: number, context: number, maxModelLen: number, params: SamplingParamsInit = {}): Promise<StepCounts> {
  const engine = await LLMEngine.create({ model: tinyModel('tiny-llama'), maxModelLen, maxNumSeqs: 16, maxNumBatchedTokens: 1024, numBlocks: 1024 });
  try {
    for (let i = 0; i < batch; i++) {
      const prompt = Array.from({ length: context }, (_, j) => (i * 31 + j * 7) % 890);
      await engine.addRequest(`r${i}`, { promptTokenIds: prompt }, { temperature: 0, ignoreEos: true, maxTokens: 32, ...params });
    }
    // Prefill, then a few decodes so every row has its table on the device.
    while (engine.stats().generationTokensTotal < 3 * batch) engine.step();
    return counting((counts, reset) => {
      reset();
      engine.step();
      return { ...counts() };
    });
  } finally {
    engine.close();
  }
}

describe('decode step host work', () => {
  it('sends the same bytes whatever the context length and maxModelLen, and reads back once', async () => {
    // Both contexts sit at the same offset in a 16-token block, so the same steps start a new block.
    const short = await decodeStep(8, 40, 256);
    const long = await decodeStep(8, 712, 2048);
    expect(long.h2dBytes).toBe(short.h2dBytes);
    expect(short.reads).toBe(1);
    expect(long.reads).toBe(1);
  });

  it('sends bytes in proportion to the batch', async () => {
    const four = await decodeStep(4, 100, 2048);
    const eight = await decodeStep(8, 100, 2048);
    const sixteen = await decodeStep(16, 100, 2048);
    // An affine function of the batch (fixed per-step bytes plus the same bytes per sequence).
    expect(sixteen.h2dBytes - eight.h2dBytes).toBe(2 * (eight.h2dBytes - four.h2dBytes));
    expect(eight.h2dBytes - four.h2dBytes).toBeGreaterThan(0);
  });

  it('reads tokens and the logprobs asked for in one copy, and makes no view inside the layer loop', async () => {
    const withLogprobs = await decodeStep(8, 100, 2048, { logprobs: 5 });
    expect(withLogprobs.reads).toBe(1);
    expect(withLogprobs.viewsInsideLayers).toBe(0);
    expect(withLogprobs.ops.filter((o) => o === 'splitQkvRotaryCache')).toHaveLength(2);
  });

  it("sends a step's sampling inputs, grammar bitmasks included, in one upload after the forward", async () => {
    const uploadsBeforeSample = (c: StepCounts) => {
      const sample = c.ops.indexOf('sample');
      return c.ops.slice(c.ops.lastIndexOf('gemm', sample), sample).filter((o) => o === 'copyFromHost').length;
    };
    const free = await decodeStep(8, 100, 2048);
    // No sequence can finish 500 letters in 32 tokens: the same batch, every row constrained.
    const constrained = await decodeStep(8, 100, 2048, { guidedRegex: '[a-z ]{500}' });
    expect(uploadsBeforeSample(free)).toBe(1);
    expect(uploadsBeforeSample(constrained)).toBe(1);
    // The only extra bytes are the 8 rows' masks: ceil(vocabulary / 32) words each.
    const { vocab_size: V } = JSON.parse(readFileSync(join(tinyModel('tiny-llama'), 'config.json'), 'utf8')) as { vocab_size: number };
    expect(constrained.h2dBytes - free.h2dBytes).toBe(8 * Math.ceil(V / 32) * 4);
  });

  it('runs no logprob pass for a batch that asked for none', async () => {
    const b = getBackend('cpu') as unknown as Record<string, unknown>;
    const calls: string[] = [];
    for (const name of ['gatherLogProbs', 'logSoftmaxTopK'] as const) {
      const real = (b[name] as (...a: unknown[]) => unknown).bind(b);
      Object.defineProperty(b, name, { configurable: true, writable: true, value: (...args: unknown[]) => {
        calls.push(name);
        return real(...args);
      } });
    }
    try {
      const engine = await LLMEngine.create({ model: tinyModel('tiny-llama') });
      await engine.addRequest('plain', 'The river', { temperature: 0, maxTokens: 4, ignoreEos: true });
      let out;
      while (engine.hasUnfinishedRequests()) out = engine.step().find((o) => o.finished) ?? out;
      engine.close();
      expect(calls).toEqual([]);
      expect(out!.outputs[0].cumulativeLogprob).toBeNull();
    } finally {
      delete b.gatherLogProbs;
      delete b.logSoftmaxTopK;
    }
  });
});
