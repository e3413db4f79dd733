// The kvCacheDtype option: a bf16 KV cache on the cpu backend (keys and values rounded when written, attention in
// f32) against the f32 cache, the block budget it doubles, and the option's validation.
import { resolveEngineConfig, resolveKvCacheDType } from '../src/config';
import { InvalidEngineOptionsError } from '../src/errors';
import { LLMEngine } from '../src/frontend/llm-engine';
import { LLM } from '../src/llm';
import { resolveModelFiles } from '../src/model/model-files';
import type { RequestOutput } from '../src/outputs';
import { BF16_PROMPTS, expectBf16Agreement } from './helpers/bf16-agreement';
import { tinyModel } from './helpers/tiny-models';

const MODELS = ['tiny-llama', 'tiny-gqa', 'tiny-mistral-bf16'] as const;

async function run(model: string, kvCacheDtype: 'auto' | 'bfloat16'): Promise<RequestOutput[]> {
  const llm = new LLM({ model, kvCacheDtype, dtype: 'float32', kvCacheBytes: 8 * 1024 * 1024 });
  try {
    return await llm.generate(BF16_PROMPTS, { temperature: 0, maxTokens: 16, ignoreEos: true, logprobs: 2 });
  } finally {
    llm.close();
  }
}

describe.each(MODELS)('%s with a bfloat16 KV cache on cpu', (name) => {
  it('agrees with the f32 cache: greedy tokens until the first near-tie, logprobs within 2e-2 on average', async () => {
    const [f32, bf16] = [await run(tinyModel(name), 'auto'), await run(tinyModel(name), 'bfloat16')];
    const { compared, differs } = expectBf16Agreement(f32, bf16);
    expect(compared).toBeGreaterThan(BF16_PROMPTS.length * 8);
    expect(differs).toBe(true); // the cache really was rounded
  });
});

describe('kvCacheDtype option', () => {
  it('stores the cache in bf16 and fits twice the blocks in the same bytes', async () => {
    const opts = { model: tinyModel('tiny-llama'), kvCacheBytes: 1 << 20 };
    const [f32, bf16] = [await LLMEngine.create(opts), await LLMEngine.create({ ...opts, kvCacheDtype: 'bfloat16' })];
    try {
      expect([f32.config.kvCacheDtype, bf16.config.kvCacheDtype]).toEqual(['f32', 'bf16']);
      expect(bf16.config.kvBudget.blockBytes * 2).toBe(f32.config.kvBudget.blockBytes);
      expect(bf16.config.numBlocks).toBe(2 * f32.config.numBlocks);
    } finally {
      f32.close();
      bf16.close();
    }
  });

  it('resolves per device and compute dtype, naming the option when it cannot run', () => {
    expect(resolveKvCacheDType({ model: 'm' }, 'f32')).toBe('f32');
    expect(resolveKvCacheDType({ model: 'm', kvCacheDtype: 'auto' }, 'f32')).toBe('f32');
    expect(resolveKvCacheDType({ model: 'm', kvCacheDtype: 'bfloat16' }, 'f32')).toBe('bf16');
    expect(resolveKvCacheDType({ model: 'm', device: 'cuda', kvCacheDtype: 'auto' }, 'f16')).toBe('f16');
    expect(resolveKvCacheDType({ model: 'm', device: 'cuda', kvCacheDtype: 'bfloat16' }, 'bf16')).toBe('bf16');
    expect(() => resolveKvCacheDType({ model: 'm', device: 'cuda', kvCacheDtype: 'bfloat16' }, 'f16')).toThrow(
      "engine option kvCacheDtype: 'bfloat16' on cuda needs bfloat16 compute (a bf16 checkpoint); this run computes in f16");
  });

  it('rejects other values, as vLLM names them or not, before anything is loaded', async () => {
    for (const bad of ['fp8', 'float32', 'bf16', 1]) {
      const e = await LLMEngine.create({ model: tinyModel('tiny-llama'), kvCacheDtype: bad as never }).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(InvalidEngineOptionsError);
      expect((e as InvalidEngineOptionsError).option).toBe('kvCacheDtype');
      expect((e as Error).message).toBe(`engine option kvCacheDtype: must be 'auto' (the compute dtype) or 'bfloat16', got ${JSON.stringify(bad)}`);
    }
    const config = resolveModelFiles(tinyModel('tiny-llama')).config;
    expect(() => resolveEngineConfig({ model: 'm', device: 'cuda', kvCacheDtype: 'bfloat16', numBlocks: 4 }, config, 'f32')).toThrow(InvalidEngineOptionsError);
  });
});
