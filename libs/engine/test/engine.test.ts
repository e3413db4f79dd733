import { cudaAvailable, getBackend } from '@sluice/cuda-kernels';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveEngineConfig } from '../src/config';
import { LLMEngine } from '../src/frontend/llm-engine';
import { InvalidEngineOptionsError } from '../src/errors';
import { LLM } from '../src/llm';
import { resolveModelFiles } from '../src/model/model-files';
import { ModelLoadError } from '../src/model/model-load-error';
import { ropeInvFreq } from '../src/models/rope';
import { tinyModel } from './helpers/tiny-models';

const MODEL = tinyModel('tiny-llama');

describe('engine options', () => {
  const config = resolveModelFiles(MODEL).config;

  it('derives the block count from the KV budget and applies defaults', () => {
    // tiny-llama: 2 layers x 16 tokens x 4 KV heads x 16 dims x (K and V) x 4 bytes = 16 KiB per block.
    const c = resolveEngineConfig({ model: MODEL, kvCacheBytes: 1024 * 1024 }, config, 'f32');
    expect(c).toMatchObject({ numBlocks: 64, numHostBlocks: 0, blockSize: 16, maxNumSeqs: 64, maxNumBatchedTokens: 2048, maxModelLen: 2048, enablePrefixCaching: true, preemptionMode: 'recompute', device: 'cpu' });
    expect(resolveEngineConfig({ model: MODEL, numBlocks: 7, preemptionMode: 'swap', swapSpaceBytes: 16384 * 3 }, config, 'f32')).toMatchObject({ numBlocks: 7, numHostBlocks: 3 });
  });

  it.each<[object, string]>([
    [{ blockSize: 0 }, 'blockSize'],
    [{ maxNumSeqs: 1.5 }, 'maxNumSeqs'],
    [{ device: 'tpu' }, 'device'],
    [{ preemptionMode: 'drop' }, 'preemptionMode'],
    [{ maxModelLen: 4096 }, 'maxModelLen'],
    [{ kvCacheBytes: 100 }, 'kvCacheBytes'],
    [{ preemptionMode: 'swap', swapSpaceBytes: 10 }, 'swapSpaceBytes'],
    [{ enablePrefixCaching: 'yes' }, 'enablePrefixCaching'],
    [{ numBlock: 3 }, 'numBlock'],
  ])('rejects %j naming the option', (bad, option) => {
    let caught: unknown;
    try {
      resolveEngineConfig({ model: MODEL, ...bad }, config, 'f32');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InvalidEngineOptionsError);
    expect(caught).toMatchObject({ code: 'INVALID_ENGINE_OPTIONS', option });
  });

  it("device 'cuda' runs where a GPU is visible and is refused naming the option elsewhere", async () => {
    if (cudaAvailable()) {
      const engine = await LLMEngine.create({ model: MODEL, device: 'cuda', numBlocks: 16 });
      engine.close();
    } else {
      await expect(LLMEngine.create({ model: MODEL, device: 'cuda' })).rejects.toMatchObject({ code: 'INVALID_ENGINE_OPTIONS', option: 'device' });
    }
  });

  it('LLMEngine.create rejects a bad option before loading, and a missing model with ModelLoadError', async () => {
    await expect(LLMEngine.create({ model: MODEL, blockSize: -1 })).rejects.toBeInstanceOf(InvalidEngineOptionsError);
    const dir = mkdtempSync(join(tmpdir(), 'sluice-engine-'));
    try {
      await expect(LLMEngine.create({ model: dir })).rejects.toMatchObject({ name: 'ModelLoadError', code: 'MODEL_FILE_MISSING' });
      await expect(LLMEngine.create({ model: join(dir, 'nope') })).rejects.toBeInstanceOf(ModelLoadError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('rotary scaling', () => {
  const base = ropeInvFreq({ theta: 500000, scaling: { type: 'default' } }, 128);

  it('llama3 keeps short wavelengths, slows long ones by the factor and blends the band between', () => {
    const s = { type: 'llama3' as const, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 };
    const scaled = ropeInvFreq({ theta: 500000, scaling: s }, 128);
    base.forEach((f, i) => {
      const wavelen = (2 * Math.PI) / f;
      if (wavelen < 8192 / 4) expect(scaled[i]).toBe(f);
      else if (wavelen > 8192) expect(scaled[i]).toBeCloseTo(f / 8, 15);
      else expect(scaled[i] < f && scaled[i] > f / 8).toBe(true);
    });
  });

  it('linear scaling divides every frequency', () => {
    const scaled = ropeInvFreq({ theta: 500000, scaling: { type: 'linear', factor: 4 } }, 128);
    scaled.forEach((f, i) => expect(f).toBeCloseTo(base[i] / 4, 15));
  });
});

describe('LLMEngine', () => {
  const llm = new LLM({ model: MODEL, kvCacheBytes: 4 * 1024 * 1024 });
  afterAll(() => llm.close());

  it('reports its model name and keeps the backend pool flat across decode steps', async () => {
    const engine = await llm.getEngine();
    expect(engine.modelName).toBe('tiny-llama');
    await engine.addRequest('m', 'The river', { temperature: 0.7, seed: 1, maxTokens: 30, ignoreEos: true, logprobs: 2 });
    for (let i = 0; i < 3; i++) engine.step();
    const before = getBackend('cpu').memoryStats().allocatedBytes;
    for (let i = 0; i < 10; i++) engine.step();
    expect(getBackend('cpu').memoryStats().allocatedBytes).toBe(before);
    engine.abortRequest('m');
  });

  it('chat renders the template and equals generating from the rendered prompt', async () => {
    const params = { temperature: 0, maxTokens: 6, ignoreEos: true };
    const [chat] = await llm.chat([{ role: 'user', content: 'Where does the river go?' }], params);
    expect(chat.prompt).toContain('Where does the river go?');
    const [plain] = await llm.generate({ promptTokenIds: chat.promptTokenIds }, params);
    expect(chat.outputs[0].tokenIds).toEqual(plain.outputs[0].tokenIds);
    // The template writes bos itself: it appears exactly once.
    expect(chat.promptTokenIds.filter((t) => t === 896)).toHaveLength(1);
  });

  it('generate keeps input order, takes per-prompt parameters, and reports usage and timings', async () => {
    const outs = await llm.generate(['one', 'two two', 'three three three'], [{ maxTokens: 1 }, { maxTokens: 2, temperature: 0 }, { maxTokens: 3, temperature: 0, ignoreEos: true }]);
    expect(outs.map((o) => o.prompt)).toEqual(['one', 'two two', 'three three three']);
    expect(outs[2].outputs[0].tokenIds).toHaveLength(3);
    for (const o of outs) {
      expect(o.usage.promptTokens).toBe(o.promptTokenIds.length);
      expect(o.usage.completionTokens).toBe(o.outputs[0].tokenIds.length);
      const t = o.timings;
      expect(t.arrivalMs <= t.firstScheduledMs! && t.firstScheduledMs! <= t.firstTokenMs! && t.firstTokenMs! <= t.finishedMs!).toBe(true);
    }
    await expect(llm.generate(['a', 'b'], [{}])).rejects.toMatchObject({ param: 'params' });
  });

  it('a failed batch leaves nothing behind', async () => {
    await expect(llm.generate(['fine', { promptTokenIds: [99999] }])).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    const engine = await llm.getEngine();
    expect(engine.hasUnfinishedRequests()).toBe(false);
  });

  it('close frees everything and is idempotent; a closed engine refuses work', async () => {
    const engine = await LLMEngine.create({ model: MODEL, numBlocks: 8 });
    engine.close();
    engine.close();
    await expect(engine.addRequest('x', 'hi')).rejects.toThrow(/closed/);
  });
});
