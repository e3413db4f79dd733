// The dtype option on the cpu backend: bf16 GEMM weights (a bf16 checkpoint as stored, an f32 one rounded at load)
// against the f32 path, and the option's validation and report in the engine config.
import { cpuKernelPath, getBackend } from '@sluice/cuda-kernels';
import { resolveWeightDType } from '../src/config';
import { LLMEngine } from '../src/frontend/llm-engine';
import { InvalidEngineOptionsError } from '../src/errors';
import { LLM } from '../src/llm';
import { resolveModelFiles } from '../src/model/model-files';
import { freeLlamaWeights, loadLlamaWeights } from '../src/models/llama-weights';
import type { RequestOutput } from '../src/outputs';
import { BF16_PROMPTS, expectBf16Agreement } from './helpers/bf16-agreement';
import { tinyModel } from './helpers/tiny-models';

const MODELS = ['tiny-llama', 'tiny-gqa', 'tiny-mistral-bf16'] as const;

async function run(model: string, dtype: 'float32' | 'bfloat16'): Promise<RequestOutput[]> {
  const llm = new LLM({ model, dtype, kvCacheBytes: 8 * 1024 * 1024 });
  try {
    return await llm.generate(BF16_PROMPTS, { temperature: 0, maxTokens: 12, ignoreEos: true, logprobs: 2 });
  } finally {
    llm.close();
  }
}

describe.each(MODELS)('%s with bfloat16 weights on cpu', (name) => {
  it('loads the GEMM weights as bf16 and keeps the lookup table, norms and activations f32', () => {
    const backend = getBackend('cpu');
    const files = resolveModelFiles(tinyModel(name));
    const w = loadLlamaWeights(backend, files, 'bf16');
    try {
      const l = w.layers[0];
      expect([l.qkv, l.o, l.gateUp, l.down, w.lmHead].map((t) => t.dtype)).toEqual(Array(5).fill('bf16'));
      expect([w.embed, w.norm, l.inputNorm, l.postNorm].map((t) => t.dtype)).toEqual(Array(4).fill('f32'));
    } finally {
      freeLlamaWeights(w);
    }
  });

  it('agrees with the f32 path: greedy tokens until the first near-tie, logprobs within 2e-2 on average', async () => {
    const [f32, bf16] = [await run(tinyModel(name), 'float32'), await run(tinyModel(name), 'bfloat16')];
    if (name === 'tiny-mistral-bf16' && cpuKernelPath().path !== 'avx512bf16') {
      // Weights stored in bf16 are the same values either way, and only the avx512bf16 path rounds activations.
      expect(bf16.map((o) => o.outputs[0])).toEqual(f32.map((o) => o.outputs[0]));
      return;
    }
    expect(expectBf16Agreement(f32, bf16).compared).toBeGreaterThan(BF16_PROMPTS.length * 6);
  });
});

describe('dtype option', () => {
  it('resolves per device and checkpoint, naming the option when it cannot run', () => {
    expect(resolveWeightDType({ model: 'm' }, 'bf16')).toBe('bf16');
    expect(resolveWeightDType({ model: 'm' }, 'f16')).toBe('f32');
    expect(resolveWeightDType({ model: 'm', dtype: 'float32' }, 'bf16')).toBe('f32');
    expect(resolveWeightDType({ model: 'm', dtype: 'bfloat16' }, 'f32')).toBe('bf16');
    expect(resolveWeightDType({ model: 'm', device: 'cuda', dtype: 'auto' }, 'f16')).toBe('f16');
    expect(() => resolveWeightDType({ model: 'm', dtype: 'float16' }, 'f32')).toThrow(InvalidEngineOptionsError);
    expect(() => resolveWeightDType({ model: 'm', device: 'cuda', dtype: 'float32' }, 'bf16')).toThrow(/'float32' on cuda/);
  });

  it('rejects an unknown dtype and reports the resolved one with the cpu kernel path', async () => {
    await expect(LLMEngine.create({ model: tinyModel('tiny-llama'), dtype: 'int4' as never })).rejects.toThrow(
      "must be 'auto', 'float32', 'bfloat16' or 'float16', got \"int4\"");
    const engine = await LLMEngine.create({ model: tinyModel('tiny-llama'), dtype: 'bfloat16', kvCacheBytes: 1 << 20 });
    try {
      expect(engine.config.dtype).toBe('bf16');
      expect(engine.config.cpuKernels).toEqual(cpuKernelPath());
    } finally {
      engine.close();
    }
  });
});
