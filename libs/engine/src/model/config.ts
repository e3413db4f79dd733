import { ModelLoadError } from './model-load-error';

export const SUPPORTED_ARCHITECTURES = ['LlamaForCausalLM', 'MistralForCausalLM', 'Qwen2ForCausalLM'] as const;
export type Architecture = (typeof SUPPORTED_ARCHITECTURES)[number];

export type RopeScaling =
  | { type: 'default' }
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number };

export interface RopeConfig {
  theta: number;
  scaling: RopeScaling;
}

export type CheckpointDType = 'f32' | 'bf16' | 'f16';

/** The parts of config.json the engine uses, normalised across architectures and config-format generations. */
export interface ModelConfig {
  architecture: Architecture;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  maxPositionEmbeddings: number;
  rmsNormEps: number;
  tieWordEmbeddings: boolean;
  qkvBias: boolean;
  rope: RopeConfig;
  dtype: CheckpointDType;
  bosTokenId?: number;
  eosTokenIds: number[];
}

type Json = Record<string, unknown>;

function positiveInt(raw: Json, key: string, file: string, fallback?: number): number {
  const v = raw[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new ModelLoadError('MODEL_CONFIG_INVALID', `${file}: "${key}" must be a positive integer, got ${JSON.stringify(v)}`, file);
  }
  return v;
}

function positiveNumber(raw: Json, key: string, file: string, fallback: number): number {
  const v = raw[key] ?? fallback;
  if (typeof v !== 'number' || !(v > 0)) {
    throw new ModelLoadError('MODEL_CONFIG_INVALID', `${file}: "${key}" must be a positive number, got ${JSON.stringify(v)}`, file);
  }
  return v;
}

export function tokenIdList(v: unknown): number[] {
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]).filter((x): x is number => typeof x === 'number');
}

// Newer configs nest rope settings in rope_parameters; older ones use rope_theta + rope_scaling.
function parseRope(raw: Json, file: string): RopeConfig {
  const params = (raw.rope_parameters ?? raw.rope_scaling ?? {}) as Json;
  const theta = positiveNumber({ rope_theta: params.rope_theta ?? raw.rope_theta }, 'rope_theta', file, 10000);
  const type = String(params.rope_type ?? params.type ?? 'default');
  const num = (key: string, fallback?: number) => positiveNumber(params, key, file, fallback as number);
  switch (type) {
    case 'default':
      return { theta, scaling: { type: 'default' } };
    case 'linear':
      return { theta, scaling: { type: 'linear', factor: num('factor') } };
    case 'llama3':
      return {
        theta,
        scaling: {
          type: 'llama3', factor: num('factor'), lowFreqFactor: num('low_freq_factor', 1),
          highFreqFactor: num('high_freq_factor', 4), originalMaxPositions: num('original_max_position_embeddings', 8192),
        },
      };
    default:
      throw new ModelLoadError('MODEL_CONFIG_INVALID', `${file}: rope type "${type}" is not supported (default, linear, llama3)`, file);
  }
}

function parseDType(raw: Json): CheckpointDType {
  const d = String(raw.torch_dtype ?? raw.dtype ?? 'float32');
  if (d === 'bfloat16') return 'bf16';
  if (d === 'float16') return 'f16';
  return 'f32';
}

/** Validates a parsed config.json; `file` names it in every error. */
export function parseModelConfig(raw: Json, file: string): ModelConfig {
  const archs = raw.architectures;
  const architecture = Array.isArray(archs) ? archs[0] : undefined;
  if (!SUPPORTED_ARCHITECTURES.includes(architecture as Architecture)) {
    throw new ModelLoadError(
      'MODEL_ARCH_UNSUPPORTED',
      `${file}: architecture ${JSON.stringify(architecture ?? null)} is not supported (${SUPPORTED_ARCHITECTURES.join(', ')})`,
      file,
    );
  }
  const hiddenSize = positiveInt(raw, 'hidden_size', file);
  const numHeads = positiveInt(raw, 'num_attention_heads', file);
  const numKvHeads = positiveInt(raw, 'num_key_value_heads', file, numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw new ModelLoadError('MODEL_CONFIG_INVALID', `${file}: num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`, file);
  }
  const headDim = positiveInt(raw, 'head_dim', file, Math.floor(hiddenSize / numHeads));
  if (headDim % 2 !== 0) {
    throw new ModelLoadError('MODEL_CONFIG_INVALID', `${file}: head_dim ${headDim} must be even for rotary embeddings`, file);
  }
  const act = raw.hidden_act ?? 'silu';
  if (act !== 'silu') {
    throw new ModelLoadError('MODEL_CONFIG_INVALID', `${file}: hidden_act ${JSON.stringify(act)} is not supported (silu)`, file);
  }
  const qkvBias = architecture === 'Qwen2ForCausalLM' ? true : raw.attention_bias === true;
  return {
    architecture: architecture as Architecture,
    hiddenSize,
    intermediateSize: positiveInt(raw, 'intermediate_size', file),
    numLayers: positiveInt(raw, 'num_hidden_layers', file),
    numHeads,
    numKvHeads,
    headDim,
    vocabSize: positiveInt(raw, 'vocab_size', file),
    maxPositionEmbeddings: positiveInt(raw, 'max_position_embeddings', file, 2048),
    rmsNormEps: positiveNumber(raw, 'rms_norm_eps', file, 1e-6),
    tieWordEmbeddings: raw.tie_word_embeddings === true,
    qkvBias,
    rope: parseRope(raw, file),
    dtype: parseDType(raw),
    bosTokenId: typeof raw.bos_token_id === 'number' ? raw.bos_token_id : undefined,
    eosTokenIds: tokenIdList(raw.eos_token_id),
  };
}

/** Every tensor the model reads, with the shape config.json implies. */
export function expectedTensorShapes(c: ModelConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  m.set('model.embed_tokens.weight', [c.vocabSize, c.hiddenSize]);
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}`;
    m.set(`${p}.input_layernorm.weight`, [c.hiddenSize]);
    m.set(`${p}.self_attn.q_proj.weight`, [q, c.hiddenSize]);
    m.set(`${p}.self_attn.k_proj.weight`, [kv, c.hiddenSize]);
    m.set(`${p}.self_attn.v_proj.weight`, [kv, c.hiddenSize]);
    if (c.qkvBias) {
      m.set(`${p}.self_attn.q_proj.bias`, [q]);
      m.set(`${p}.self_attn.k_proj.bias`, [kv]);
      m.set(`${p}.self_attn.v_proj.bias`, [kv]);
    }
    m.set(`${p}.self_attn.o_proj.weight`, [c.hiddenSize, q]);
    m.set(`${p}.post_attention_layernorm.weight`, [c.hiddenSize]);
    m.set(`${p}.mlp.gate_proj.weight`, [c.intermediateSize, c.hiddenSize]);
    m.set(`${p}.mlp.up_proj.weight`, [c.intermediateSize, c.hiddenSize]);
    m.set(`${p}.mlp.down_proj.weight`, [c.hiddenSize, c.intermediateSize]);
  }
  m.set('model.norm.weight', [c.hiddenSize]);
  if (!c.tieWordEmbeddings) m.set('lm_head.weight', [c.vocabSize, c.hiddenSize]);
  return m;
}
