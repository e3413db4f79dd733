// The LlmEngine adapter over the real @sluice/engine AsyncEngine on a tiny model: results match the engine's own
// greedy output, and each engine refusal lands in the class the worker's policy expects.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LLM } from '@sluice/engine';
import pino from 'pino';
import { resolveConfig } from '../src/config';
import { createEngine } from '../src/engine/create-engine';
import { LlmEngine } from '../src/engine/llm-engine';
import { ConfigError, EngineError, InvalidJobError } from '../src/errors';
import { tinyModel } from './harness';

describe('LlmEngine on tiny-llama', () => {
  const model = tinyModel();
  let engine: LlmEngine;
  // 1 MiB of KV cache is 64 blocks of 16 tokens here: room for short jobs, not for a 1,500-token one.
  beforeAll(async () => (engine = await LlmEngine.start({ model, kvCacheBytes: 1024 * 1024 })));
  afterAll(() => engine.shutdown());

  it('answers with the engine\'s own greedy output, prompt and chat, with usage and timings', async () => {
    const llm = new LLM({ model });
    try {
      const [fromText, fromChat] = await llm.generate(['the quick brown fox', { messages: [{ role: 'user', content: 'hello there' }] }], { temperature: 0, maxTokens: 12 });
      const text = await engine.submit({ id: 'a', prompt: 'the quick brown fox', sampling: { temperature: 0, max_tokens: 12 } });
      const chat = await engine.submit({ id: 'b', messages: [{ role: 'user', content: 'hello there' }], sampling: { temperature: 0, max_tokens: 12 }, priority: 1 });
      expect(text.outputs[0]).toMatchObject({ index: 0, text: fromText.outputs[0].text, token_ids: fromText.outputs[0].tokenIds, finish_reason: fromText.outputs[0].finishReason });
      expect(chat.outputs[0]).toMatchObject({ text: fromChat.outputs[0].text, token_ids: fromChat.outputs[0].tokenIds });
      expect(text.usage).toEqual({ prompt_tokens: fromText.usage.promptTokens, completion_tokens: 12, cached_tokens: 0 });
      expect(text.timings.total_ms).toBeGreaterThanOrEqual(text.timings.first_token_ms ?? 0);
    } finally {
      llm.close();
    }
  });

  it('reports the prompt tokens a later job got from the prefix cache (usage.cached_tokens)', async () => {
    const prompt = 'a preamble long enough to fill more than one block of sixteen tokens, shared by both jobs. ';
    const first = await engine.submit({ id: 'c1', prompt: `${prompt}one`, sampling: { temperature: 0, max_tokens: 1 } });
    const second = await engine.submit({ id: 'c2', prompt: `${prompt}two`, sampling: { temperature: 0, max_tokens: 1 } });
    expect(first.usage.cached_tokens).toBe(0);
    expect(second.usage.cached_tokens).toBeGreaterThanOrEqual(16);
    expect(second.usage.cached_tokens! % 16).toBe(0);
    expect(second.usage.cached_tokens).toBeLessThan(second.usage.prompt_tokens);
  });

  it('returns n outputs for n > 1', async () => {
    const r = await engine.submit({ id: 'n', prompt: 'abc', sampling: { n: 3, temperature: 1, seed: 5, max_tokens: 4 } });
    expect(r.outputs.map((o) => o.index)).toEqual([0, 1, 2]);
    expect(r.usage.completion_tokens).toBe(12);
  });

  it.each([
    ['logprobs over the engine\'s limit', { logprobs: 50 }, InvalidJobError, { deadLetterCode: 'INVALID_SAMPLING' }],
    ['prompt + max_tokens over the model length', { max_tokens: 5000 }, InvalidJobError, { deadLetterCode: 'PROMPT_TOO_LARGE' }],
    ['more KV cache than this worker has', { max_tokens: 1500 }, EngineError, { code: 'REJECTED' }],
  ])('classifies %s', async (_what, sampling, cls, fields) => {
    const p = engine.submit({ id: `bad-${JSON.stringify(sampling)}`, prompt: 'x', sampling });
    await expect(p).rejects.toBeInstanceOf(cls);
    await expect(p).rejects.toMatchObject(fields);
  });

  it('aborts a running job with ABORTED and reports its load from the engine stats', async () => {
    const p = engine.submit({ id: 'long', prompt: 'tell a long story', sampling: { max_tokens: 900, ignore_eos: true } });
    engine.abort('long');
    await expect(p).rejects.toMatchObject({ code: 'ABORTED' });
    const load = engine.load();
    expect(load.totalKvBlocks).toBe(64);
    expect(load.freeKvBlocks).toBeLessThanOrEqual(64);
    expect(load.kvUsage).toBeGreaterThanOrEqual(0);
  });
});

describe('createEngine --engine llm', () => {
  it('loads the model the config names and serves it under its directory name', async () => {
    const engine = await createEngine(resolveConfig(['--engine', 'llm', '--model', tinyModel(), '--max-num-seqs', '8'], {}), pino({ level: 'silent' }));
    try {
      expect(engine.model).toBe('tiny-llama');
    } finally {
      await engine.shutdown();
    }
  });

  it.each([
    [['--kv-cache-bytes', '100'], /--kv-cache-bytes \(SLUICE_KV_CACHE_BYTES\): .*hold no KV block/],
    [['--model', 'EMPTY'], /--model \(SLUICE_MODEL\): /],
  ])('turns an engine refusal of %j into a ConfigError naming the flag', async (argv, message) => {
    const args = ['--engine', 'llm', '--model', tinyModel(), ...argv].map((a) => (a === 'EMPTY' ? mkdtempSync(join(tmpdir(), 'no-model-')) : a));
    const p = createEngine(resolveConfig(args, {}), pino({ level: 'silent' }));
    await expect(p).rejects.toBeInstanceOf(ConfigError);
    await expect(p).rejects.toThrow(message);
  });
});

describe('SelfHealingEngine over the real engine', () => {
  it('a dead engine thread (its jobs fail ENGINE_FAILED): a new engine is loaded and runs them again to the same greedy output', async () => {
    const { SelfHealingEngine } = await import('../src/engine/self-healing-engine');
    const engines: LlmEngine[] = [];
    const start = async () => {
      const e = await LlmEngine.start({ model: tinyModel(), maxNumSeqs: 8 });
      engines.push(e);
      return e;
    };
    const healing = await SelfHealingEngine.start({ start, maxConsecutiveFailures: 8, log: pino({ level: 'silent' }) });
    try {
      const sampling = { temperature: 0, max_tokens: 1000, ignore_eos: true };
      const jobs = ['first prompt', 'second prompt', 'third prompt'].map((prompt, i) => healing.submit({ id: `k${i}`, prompt, sampling }));
      // The engine thread dies mid-batch (1,000 tokens each), as a native crash would end it (AsyncEngine's worker is its thread).
      while (healing.load().running === 0) await new Promise((r) => setTimeout(r, 2));
      await (engines[0] as unknown as { engine: { worker: { terminate(): Promise<number> } } }).engine.worker.terminate();
      const results = await Promise.all(jobs);
      expect(healing.restarts).toBe(1);
      expect(engines).toHaveLength(2);
      const llm = new LLM({ model: tinyModel() });
      try {
        const expected = await llm.generate(['first prompt', 'second prompt', 'third prompt'], { temperature: 0, maxTokens: 1000, ignoreEos: true });
        expect(results.map((r) => r.outputs[0].token_ids)).toEqual(expected.map((e) => e.outputs[0].tokenIds));
      } finally {
        llm.close();
      }
    } finally {
      await healing.shutdown();
    }
  }, 60_000);
});
