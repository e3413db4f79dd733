#!/usr/bin/env node
// Generates the tiny deterministic Llama-family checkpoints the engine's tests run on, in Hugging Face layout,
// under <repo>/.cache/models (or $SLUICE_MODELS_DIR). Idempotent: a stamp of this script and the corpus skips the work.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BPE, Tokenizer, byteLevelAlphabet, byteLevelPreTokenizer } from 'tokenizers';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..', '..');
const outRoot = process.env.SLUICE_MODELS_DIR ?? join(repoRoot, '.cache', 'models');
const corpusPath = join(here, 'tiny-corpus.txt');
const BPE_MERGES = 640;
const SPECIAL_TOKENS = [
  '<|begin_of_text|>', '<|end_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>', '<|pad|>',
];
const CHAT_TEMPLATE =
  "{{- bos_token }}{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' " +
  "+ message['content'] | trim + '<|eot_id|>' }}{%- endfor %}{%- if add_generation_prompt %}" +
  "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}";

const VARIANTS = [
  {
    name: 'tiny-llama', arch: 'LlamaForCausalLM', modelType: 'llama', hidden: 64, intermediate: 128, layers: 2,
    heads: 4, kvHeads: 4, bias: false, tied: false, dtype: 'f32', shards: 1, rope: 'legacy', ropeTheta: 10000,
    templateFile: false,
  },
  {
    name: 'tiny-gqa', arch: 'Qwen2ForCausalLM', modelType: 'qwen2', hidden: 64, intermediate: 128, layers: 3,
    heads: 8, kvHeads: 2, bias: true, tied: true, dtype: 'f32', shards: 1, rope: 'both', ropeTheta: 1000000,
    templateFile: false,
  },
  {
    name: 'tiny-mistral-bf16', arch: 'MistralForCausalLM', modelType: 'mistral', hidden: 64, intermediate: 128,
    layers: 2, heads: 4, kvHeads: 2, bias: false, tied: false, dtype: 'bf16', shards: 2, rope: 'parameters',
    ropeTheta: 10000, templateFile: true,
  },
];

function stampOf() {
  return createHash('sha256').update(readFileSync(fileURLToPath(import.meta.url))).update(readFileSync(corpusPath))
    .digest('hex');
}

// Trains a byte-level BPE on the corpus, then lays out the vocabulary like GPT-2/Llama 3: all 256 byte symbols,
// the first BPE_MERGES merges in training order, then the special tokens.
function buildTokenizerJson(workDir) {
  const trainer = new Tokenizer(BPE.empty());
  trainer.setPreTokenizer(byteLevelPreTokenizer(false, true));
  trainer.train([corpusPath]);
  const rawPath = join(workDir, 'trained.json');
  trainer.save(rawPath, false);
  const trained = JSON.parse(readFileSync(rawPath, 'utf8'));
  const merges = trained.model.merges.map((m) => (Array.isArray(m) ? m : m.split(' '))).slice(0, BPE_MERGES);
  const vocab = {};
  for (const symbol of [...byteLevelAlphabet()].sort()) vocab[symbol] = Object.keys(vocab).length;
  for (const [a, b] of merges) if (!(a + b in vocab)) vocab[a + b] = Object.keys(vocab).length;
  const firstSpecial = Object.keys(vocab).length;
  const special = SPECIAL_TOKENS.map((content, i) => ({
    id: firstSpecial + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  }));
  const bos = special[0];
  const json = {
    version: '1.0', truncation: null, padding: null, added_tokens: special, normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: bos.content, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: bos.content, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: bos.content, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { [bos.content]: { id: bos.content, ids: [bos.id], tokens: [bos.content] } },
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges,
    },
  };
  const text = JSON.stringify(json);
  Tokenizer.fromString(text); // fails loudly here rather than in a test if the layout is wrong
  return { text, vocabSize: firstSpecial + special.length, specialIds: Object.fromEntries(special.map((t) => [t.content, t.id])) };
}

// splitmix32: a tiny PRNG whose stream depends only on the seed, so every machine writes the same weights.
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
}

function seedOf(name) {
  return createHash('sha256').update(name).digest().readUInt32LE(0);
}

function normal(name, shape, std, mean = 0) {
  const next = rng(seedOf(name));
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(next(), 1e-12);
    out[i] = mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
  }
  return out;
}

function weightsOf(v, vocabSize) {
  const headDim = v.hidden / v.heads;
  const t = new Map();
  const add = (name, shape, std, mean = 0) => t.set(name, { shape, data: normal(`${v.name}/${name}`, shape, std, mean) });
  add('model.embed_tokens.weight', [vocabSize, v.hidden], 0.25);
  for (let l = 0; l < v.layers; l++) {
    const p = `model.layers.${l}`;
    const inStd = 1 / Math.sqrt(v.hidden);
    add(`${p}.input_layernorm.weight`, [v.hidden], 0.1, 1);
    add(`${p}.self_attn.q_proj.weight`, [v.heads * headDim, v.hidden], inStd);
    add(`${p}.self_attn.k_proj.weight`, [v.kvHeads * headDim, v.hidden], inStd);
    add(`${p}.self_attn.v_proj.weight`, [v.kvHeads * headDim, v.hidden], inStd);
    if (v.bias) {
      add(`${p}.self_attn.q_proj.bias`, [v.heads * headDim], 0.1);
      add(`${p}.self_attn.k_proj.bias`, [v.kvHeads * headDim], 0.1);
      add(`${p}.self_attn.v_proj.bias`, [v.kvHeads * headDim], 0.1);
    }
    add(`${p}.self_attn.o_proj.weight`, [v.hidden, v.heads * headDim], inStd);
    add(`${p}.post_attention_layernorm.weight`, [v.hidden], 0.1, 1);
    add(`${p}.mlp.gate_proj.weight`, [v.intermediate, v.hidden], inStd);
    add(`${p}.mlp.up_proj.weight`, [v.intermediate, v.hidden], inStd);
    add(`${p}.mlp.down_proj.weight`, [v.hidden, v.intermediate], 1 / Math.sqrt(v.intermediate));
  }
  add('model.norm.weight', [v.hidden], 0.1, 1);
  if (!v.tied) add('lm_head.weight', [vocabSize, v.hidden], 0.25);
  return t;
}

// Round-to-nearest-even f32 -> bf16, as torch does.
function toBf16(data) {
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const out = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const x = bits[i];
    out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

function safetensorsBytes(entries, dtype) {
  const header = { __metadata__: { format: 'pt' } };
  const blobs = [];
  let offset = 0;
  for (const [name, { shape, data }] of entries) {
    const bytes = dtype === 'bf16' ? toBf16(data) : data;
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    header[name] = { dtype: dtype === 'bf16' ? 'BF16' : 'F32', shape, data_offsets: [offset, offset + buf.length] };
    blobs.push(buf);
    offset += buf.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return { bytes: Buffer.concat([len, Buffer.from(json), ...blobs]), size: offset };
}

function writeWeights(dir, v, tensors) {
  const entries = [...tensors.entries()];
  if (v.shards === 1) {
    writeFileSync(join(dir, 'model.safetensors'), safetensorsBytes(entries, v.dtype).bytes);
    return;
  }
  const weightMap = {};
  let total = 0;
  const per = Math.ceil(entries.length / v.shards);
  for (let s = 0; s < v.shards; s++) {
    const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(v.shards).padStart(5, '0')}.safetensors`;
    const part = entries.slice(s * per, (s + 1) * per);
    const { bytes, size } = safetensorsBytes(part, v.dtype);
    writeFileSync(join(dir, file), bytes);
    for (const [name] of part) weightMap[name] = file;
    total += size;
  }
  writeFileSync(join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
}

function configOf(v, tok) {
  const c = {
    architectures: [v.arch], model_type: v.modelType, hidden_size: v.hidden, intermediate_size: v.intermediate,
    num_hidden_layers: v.layers, num_attention_heads: v.heads, num_key_value_heads: v.kvHeads,
    head_dim: v.hidden / v.heads, hidden_act: 'silu', max_position_embeddings: 2048, rms_norm_eps: 1e-5,
    vocab_size: tok.vocabSize, tie_word_embeddings: v.tied, bos_token_id: tok.specialIds['<|begin_of_text|>'],
    eos_token_id: tok.specialIds['<|end_of_text|>'], torch_dtype: v.dtype === 'bf16' ? 'bfloat16' : 'float32',
    attention_dropout: 0,
  };
  if (v.modelType === 'llama') Object.assign(c, { attention_bias: v.bias, mlp_bias: false });
  if (v.modelType === 'qwen2') Object.assign(c, { use_sliding_window: false, sliding_window: null });
  if (v.modelType === 'mistral') c.sliding_window = null;
  if (v.rope !== 'parameters') Object.assign(c, { rope_theta: v.ropeTheta, rope_scaling: null });
  if (v.rope !== 'legacy') c.rope_parameters = { rope_type: 'default', rope_theta: v.ropeTheta };
  return c;
}

function writeVariant(dir, v, tok) {
  mkdirSync(dir, { recursive: true });
  const eos = [tok.specialIds['<|end_of_text|>'], tok.specialIds['<|eot_id|>']];
  writeFileSync(join(dir, 'config.json'), JSON.stringify(configOf(v, tok), null, 2));
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({
    bos_token_id: tok.specialIds['<|begin_of_text|>'], eos_token_id: eos, do_sample: false,
  }, null, 2));
  writeFileSync(join(dir, 'tokenizer.json'), tok.text);
  const tokConfig = {
    tokenizer_class: 'PreTrainedTokenizerFast', bos_token: '<|begin_of_text|>', eos_token: '<|eot_id|>',
    pad_token: '<|pad|>', model_max_length: 2048, clean_up_tokenization_spaces: false,
    added_tokens_decoder: Object.fromEntries(SPECIAL_TOKENS.map((content) => [String(tok.specialIds[content]), {
      content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true,
    }])),
  };
  if (v.templateFile) writeFileSync(join(dir, 'chat_template.jinja'), CHAT_TEMPLATE);
  else tokConfig.chat_template = CHAT_TEMPLATE;
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tokConfig, null, 2));
  writeWeights(dir, v, weightsOf(v, tok.vocabSize));
}

function main() {
  const stamp = stampOf();
  const stampPath = join(outRoot, '.tiny-models.stamp');
  const complete = VARIANTS.every((v) => existsSync(join(outRoot, v.name, 'config.json')));
  if (complete && existsSync(stampPath) && readFileSync(stampPath, 'utf8').trim() === stamp) return;
  const work = join(tmpdir(), `sluice-tiny-${process.pid}`);
  mkdirSync(work, { recursive: true });
  try {
    const tok = buildTokenizerJson(work);
    mkdirSync(outRoot, { recursive: true });
    for (const v of VARIANTS) {
      // Write beside the target and rename, so a crash never leaves a half-written model that looks complete.
      const staging = join(outRoot, `.${v.name}.partial`);
      rmSync(staging, { recursive: true, force: true });
      writeVariant(staging, v, tok);
      rmSync(join(outRoot, v.name), { recursive: true, force: true });
      renameSync(staging, join(outRoot, v.name));
    }
    writeFileSync(stampPath, stamp + '\n');
    console.log(`setup: wrote tiny models (${VARIANTS.map((v) => v.name).join(', ')}) to ${outRoot}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main();
