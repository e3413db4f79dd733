import { getBackend } from '@sluice/cuda-kernels';
import { resolveEngineConfig, type StepShape } from '../src/config';
import { LLMEngine, MAX_LOGPROBS } from '../src/frontend/llm-engine';
import type { DeviceMemoryUse } from '../src/kv-budget';
import { resolveModelFiles } from '../src/model/model-files';
import { measureDeviceMemory } from '../src/core/forward-profile';
import { freeLlamaWeights, loadLlamaWeights } from '../src/models/llama-weights';
import type { RequestOutput } from '../src/outputs';
import { tinyModel } from './helpers/tiny-models';

const MODEL = tinyModel('tiny-llama');
const PROMPTS = ['The river', 'Once upon a time there was', 'A B C D E F G'];

// Greedy completions with logprobs; profiles the forward pass after the first step when asked to.
async function generate(engine: LLMEngine, profileMidway: boolean): Promise<Map<string, RequestOutput>> {
  for (const [i, p] of PROMPTS.entries()) await engine.addRequest(`r${i}`, p, { temperature: 0, maxTokens: 12, logprobs: 2, ignoreEos: true });
  const done = new Map<string, RequestOutput>();
  let steps = 0;
  while (engine.hasUnfinishedRequests()) {
    for (const o of engine.step()) if (o.finished) done.set(o.requestId, o);
    if (profileMidway && ++steps === 1) expect(engine.profileForwardPass().peakActivationBytes).toBeGreaterThan(0);
  }
  return done;
}

function completions(outs: Map<string, RequestOutput>): unknown[] {
  return [...outs.values()].map((o) => ({ id: o.requestId, out: o.outputs.map((c) => ({ tokens: c.tokenIds, logprobs: c.logprobs, lp: c.cumulativeLogprob })) }));
}

describe('profiled forward pass (run on the CPU backend: the CUDA sizing it feeds cannot run here)', () => {
  it('runs the largest batch the limits allow and reports a positive peak activation figure', async () => {
    const engine = await LLMEngine.create({ model: MODEL, kvCacheBytes: 1024 * 1024, maxNumSeqs: 4, maxNumBatchedTokens: 256 });
    try {
      const p = engine.profileForwardPass();
      expect(p).toMatchObject({ numSeqs: 4, numTokens: 256, decodeSeqs: 4 }); // then a decode step of 4 at maxModelLen
      expect(p.peakActivationBytes).toBeGreaterThan(0);
      expect(engine.config.kvBudget).toEqual({ source: 'bytes', numBlocks: 64, blockBytes: 16384, kvCacheBytes: 1024 * 1024 });
    } finally {
      engine.close();
    }
  });

  it('caps the batch at maxNumSeqs sequences of maxModelLen tokens', async () => {
    const engine = await LLMEngine.create({ model: MODEL, numBlocks: 16, maxNumSeqs: 2, maxNumBatchedTokens: 256, maxModelLen: 40 });
    try {
      expect(engine.profileForwardPass()).toMatchObject({ numSeqs: 2, numTokens: 80, decodeSeqs: 2 });
    } finally {
      engine.close();
    }
  });

  it('leaves the engine untouched: greedy tokens and logprobs equal those of an engine that never profiled', async () => {
    const opts = { model: MODEL, kvCacheBytes: 1024 * 1024, maxNumSeqs: 4, maxNumBatchedTokens: 64 };
    const plain = await LLMEngine.create(opts);
    const profiled = await LLMEngine.create(opts);
    try {
      const expected = completions(await generate(plain, false));
      expect(profiled.profileForwardPass().peakActivationBytes).toBeGreaterThan(0);
      expect(completions(await generate(profiled, true))).toEqual(expected);
      expect(profiled.stats()).toMatchObject({ freeBlocks: plain.stats().freeBlocks, totalBlocks: plain.stats().totalBlocks });
    } finally {
      plain.close();
      profiled.close();
    }
  });

  it("the device-memory path, measured on the CPU backend, profiles and then refuses its 0 bytes of device memory", () => {
    const files = resolveModelFiles(MODEL);
    const backend = getBackend('cpu');
    const weights = loadLlamaWeights(backend, files);
    try {
      let use: DeviceMemoryUse | undefined;
      const measure = (shape: StepShape) => (use = measureDeviceMemory(backend, files.config, weights, { ...shape, maxTopK: MAX_LOGPROBS }));
      expect(() => resolveEngineConfig({ model: MODEL, device: 'cuda', maxNumSeqs: 4, maxNumBatchedTokens: 128 }, files.config, 'f32', measure))
        .toThrow('engine option gpuMemoryUtilization: the backend reports 0 bytes of device memory');
      expect(use).toMatchObject({ totalDeviceBytes: 0, usedBytesAfterWeights: 0 });
      expect(use!.peakActivationBytes).toBeGreaterThan(0);
    } finally {
      freeLlamaWeights(weights);
    }
  });
});
