import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelLoadError } from '../src/model/model-load-error';
import { resolveModelFiles } from '../src/model/model-files';
import { tinyModel } from './helpers/tiny-models';

let scratch: string;
beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'sluice-model-'));
});
afterEach(() => rmSync(scratch, { recursive: true, force: true }));

function copyOf(name: Parameters<typeof tinyModel>[0], editConfig?: (c: Record<string, unknown>) => void): string {
  const dir = join(scratch, name);
  cpSync(tinyModel(name), dir, { recursive: true });
  if (editConfig) {
    const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    editConfig(c);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
  }
  return dir;
}

function loadError(dir: string): ModelLoadError {
  try {
    resolveModelFiles(dir);
  } catch (e) {
    expect(e).toBeInstanceOf(ModelLoadError);
    return e as ModelLoadError;
  }
  throw new Error('expected resolveModelFiles to throw');
}

describe('resolveModelFiles', () => {
  it('reads the legacy Llama config, single-file weights and the template inside tokenizer_config.json', () => {
    const m = resolveModelFiles(tinyModel('tiny-llama'));
    expect(m.config).toMatchObject({
      architecture: 'LlamaForCausalLM', hiddenSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 4, headDim: 16,
      tieWordEmbeddings: false, qkvBias: false, dtype: 'f32', rope: { theta: 10000, scaling: { type: 'default' } },
    });
    expect(m.weightFiles.map((f) => f.split('/').pop())).toEqual(['model.safetensors']);
    expect(m.tensors.get('lm_head.weight')?.shape).toEqual([m.config.vocabSize, 64]);
    expect(m.chatTemplate).toContain('<|start_header_id|>');
    expect(m.generation.eosTokenIds).toHaveLength(2);
  });

  it('reads Qwen2 with qkv bias, GQA and tied embeddings (no lm_head tensor needed)', () => {
    const m = resolveModelFiles(tinyModel('tiny-gqa'));
    expect(m.config).toMatchObject({ architecture: 'Qwen2ForCausalLM', numHeads: 8, numKvHeads: 2, qkvBias: true, tieWordEmbeddings: true });
    expect(m.tensors.has('lm_head.weight')).toBe(false);
    expect(m.tensors.get('model.layers.0.self_attn.k_proj.bias')?.shape).toEqual([16]);
  });

  it('reads sharded bf16 weights through the index, rope_parameters, and chat_template.jinja', () => {
    const m = resolveModelFiles(tinyModel('tiny-mistral-bf16'));
    expect(m.config).toMatchObject({ architecture: 'MistralForCausalLM', dtype: 'bf16', rope: { theta: 10000 } });
    expect(m.weightFiles).toHaveLength(2);
    expect(new Set([...m.tensors.values()].map((t) => t.file)).size).toBe(2);
    expect([...m.tensors.values()].every((t) => t.dtype === 'BF16')).toBe(true);
    expect(m.chatTemplate).toContain('add_generation_prompt');
  });

  it('parses llama3 and linear rope scaling in both config generations', () => {
    const legacy = resolveModelFiles(copyOf('tiny-llama', (c) => {
      c.rope_theta = 500000;
      c.rope_scaling = { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 };
    })).config.rope;
    expect(legacy).toEqual({ theta: 500000, scaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 } });
    rmSync(join(scratch, 'tiny-llama'), { recursive: true });
    const newer = resolveModelFiles(copyOf('tiny-llama', (c) => {
      delete c.rope_theta;
      c.rope_parameters = { rope_type: 'linear', rope_theta: 20000, factor: 2 };
    })).config.rope;
    expect(newer).toEqual({ theta: 20000, scaling: { type: 'linear', factor: 2 } });
  });

  it('rejects an unsupported architecture, naming config.json', () => {
    const e = loadError(copyOf('tiny-llama', (c) => { c.architectures = ['GPT2LMHeadModel']; }));
    expect(e.code).toBe('MODEL_ARCH_UNSUPPORTED');
    expect(e.message).toMatch(/config\.json.*GPT2LMHeadModel/);
  });

  it('rejects a missing tokenizer.json and a missing shard, naming the file', () => {
    const dir = copyOf('tiny-llama');
    rmSync(join(dir, 'tokenizer.json'));
    expect(loadError(dir)).toMatchObject({ code: 'MODEL_FILE_MISSING', file: join(dir, 'tokenizer.json') });
    const sharded = copyOf('tiny-mistral-bf16');
    rmSync(join(sharded, 'model-00002-of-00002.safetensors'));
    expect(loadError(sharded)).toMatchObject({ code: 'MODEL_FILE_MISSING', file: join(sharded, 'model-00002-of-00002.safetensors') });
  });

  it('rejects a tensor whose shape disagrees with config.json, naming the file and the tensor', () => {
    const dir = copyOf('tiny-llama', (c) => { c.intermediate_size = 96; });
    const e = loadError(dir);
    expect(e).toMatchObject({ code: 'MODEL_TENSOR_SHAPE', file: join(dir, 'model.safetensors'), tensor: 'model.layers.0.mlp.gate_proj.weight' });
    expect(e.message).toContain('[128,64]');
  });

  it('rejects a checkpoint that lacks an expected tensor', () => {
    const dir = copyOf('tiny-gqa', (c) => { c.tie_word_embeddings = false; });
    expect(loadError(dir)).toMatchObject({ code: 'MODEL_TENSOR_MISSING', tensor: 'lm_head.weight' });
  });

  it('rejects malformed numeric fields', () => {
    const e = loadError(copyOf('tiny-llama', (c) => { c.num_key_value_heads = 3; }));
    expect(e.code).toBe('MODEL_CONFIG_INVALID');
    expect(e.message).toMatch(/num_key_value_heads/);
  });
});
