// The bench's own GGUF writer: converts a Hugging Face Llama (F32 safetensors, BPE tokenizer.json) to a GGUF v3
// file llama.cpp loads, in F32 or BF16 (matrices in BF16, norms kept F32, as llama.cpp's converter does).
// llama.cpp's 'llama' architecture applies rotary embeddings to interleaved pairs (2i, 2i + 1) where Hugging Face
// rotates halves (i, i + D/2), so the rows of q_proj and k_proj are permuted per head on the way.
import { closeSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const ALIGN = 32;
const T = { UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9 };
const GGML = { F32: 0, BF16: 30 };
const FILE_TYPE = { F32: 0, BF16: 32 }; // llama.cpp's LLAMA_FTYPE_ALL_F32, LLAMA_FTYPE_MOSTLY_BF16

/** Tensors of a single-file F32 safetensors checkpoint, as Float32Arrays by name. */
function readSafetensors(path) {
  const fd = openSync(path, 'r');
  try {
    const len = Buffer.alloc(8);
    readSync(fd, len, 0, 8, 0);
    const headerLen = Number(len.readBigUInt64LE(0));
    const header = JSON.parse(readFileSync(path).subarray(8, 8 + headerLen).toString('utf8'));
    const out = new Map();
    for (const [name, info] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      if (info.dtype !== 'F32') throw new Error(`gguf: ${name} is ${info.dtype}; this converter reads F32 checkpoints`);
      const [b, e] = info.data_offsets;
      const buf = Buffer.alloc(e - b);
      readSync(fd, buf, 0, e - b, 8 + headerLen + b);
      out.set(name, { shape: info.shape, data: new Float32Array(buf.buffer, buf.byteOffset, (e - b) / 4) });
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** Rows of a [heads * D, K] projection from halves order to llama.cpp's interleaved-pairs order, per head. */
export function permuteRotaryRows(data, heads, K) {
  const D = data.length / K / heads;
  const half = D / 2;
  const out = new Float32Array(data.length);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const from = (h * D + j * half + i) * K;
        out.set(data.subarray(from, from + K), (h * D + 2 * i + j) * K);
      }
    }
  }
  return out;
}

function toBf16(x) {
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < bits.length; i++) out[i] = (bits[i] + 0x7fff + ((bits[i] >>> 16) & 1)) >>> 16;
  return out;
}

// --- GGUF encoding ---------------------------------------------------------------------------------

class Bytes {
  constructor() {
    this.parts = [];
    this.length = 0;
  }
  push(buf) {
    this.parts.push(buf);
    this.length += buf.length;
  }
  u32(v) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
  }
  i32(v) {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.push(b);
  }
  u64(v) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  f32(v) {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.push(b);
  }
  str(s) {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.push(b);
  }
}

function writeValue(out, type, v) {
  if (type === T.UINT32) out.u32(v);
  else if (type === T.INT32) out.i32(v);
  else if (type === T.FLOAT32) out.f32(v);
  else if (type === T.BOOL) out.push(Buffer.from([v ? 1 : 0]));
  else if (type === T.STRING) out.str(v);
  else throw new Error(`gguf: value type ${type} not written here`);
}

function writeKv(out, key, type, value, elemType) {
  out.str(key);
  out.u32(type);
  if (type !== T.ARRAY) return writeValue(out, type, value);
  out.u32(elemType);
  out.u64(value.length);
  for (const v of value) writeValue(out, elemType, v);
}

/** Metadata of a Llama: hyperparameters and the byte-level BPE vocabulary with its merges. */
function metadata(config, tokenizer, fileType) {
  const vocab = Object.entries(tokenizer.model.vocab).map(([tok, id]) => [id, tok]);
  const special = new Set();
  for (const t of tokenizer.added_tokens ?? []) {
    vocab.push([t.id, t.content]);
    if (t.special) special.add(t.id);
  }
  const n = config.vocab_size;
  const tokens = Array.from({ length: n }, (_, i) => `<unused_${i}>`);
  for (const [id, tok] of vocab) if (id < n) tokens[id] = tok;
  const types = tokens.map((_, i) => (special.has(i) ? 3 : 1)); // 3: control, 1: normal
  const merges = tokenizer.model.merges.map((m) => (Array.isArray(m) ? m.join(' ') : m));
  const headDim = config.head_dim ?? config.hidden_size / config.num_attention_heads;
  // Whether the tokenizer prepends bos, as its TemplateProcessing post-processor says.
  const addBos = JSON.stringify(tokenizer.post_processor ?? {}).includes(JSON.stringify(tokens[config.bos_token_id]));
  return [
    ['general.architecture', T.STRING, 'llama'],
    ['general.name', T.STRING, 'sluice-bench-llama'],
    ['general.file_type', T.UINT32, fileType],
    ['general.alignment', T.UINT32, ALIGN],
    ['llama.vocab_size', T.UINT32, n],
    ['llama.context_length', T.UINT32, config.max_position_embeddings],
    ['llama.embedding_length', T.UINT32, config.hidden_size],
    ['llama.block_count', T.UINT32, config.num_hidden_layers],
    ['llama.feed_forward_length', T.UINT32, config.intermediate_size],
    ['llama.attention.head_count', T.UINT32, config.num_attention_heads],
    ['llama.attention.head_count_kv', T.UINT32, config.num_key_value_heads],
    ['llama.attention.key_length', T.UINT32, headDim],
    ['llama.attention.value_length', T.UINT32, headDim],
    ['llama.rope.dimension_count', T.UINT32, headDim],
    ['llama.rope.freq_base', T.FLOAT32, config.rope_theta ?? 10000],
    ['llama.attention.layer_norm_rms_epsilon', T.FLOAT32, config.rms_norm_eps],
    ['tokenizer.ggml.model', T.STRING, 'gpt2'],
    ['tokenizer.ggml.pre', T.STRING, 'default'],
    ['tokenizer.ggml.tokens', T.ARRAY, tokens, T.STRING],
    ['tokenizer.ggml.token_type', T.ARRAY, types, T.INT32],
    ['tokenizer.ggml.merges', T.ARRAY, merges, T.STRING],
    ['tokenizer.ggml.bos_token_id', T.UINT32, config.bos_token_id],
    ['tokenizer.ggml.eos_token_id', T.UINT32, config.eos_token_id],
    ['tokenizer.ggml.add_bos_token', T.BOOL, addBos],
  ];
}

/** GGUF tensors: [name, HF shape, data, keep F32] in llama.cpp's names, q/k rows permuted. */
function tensors(config, st) {
  const get = (n) => st.get(n).data;
  const shape = (n) => st.get(n).shape;
  const K = config.hidden_size;
  const list = [['token_embd.weight', shape('model.embed_tokens.weight'), get('model.embed_tokens.weight'), false]];
  for (let l = 0; l < config.num_hidden_layers; l++) {
    const p = `model.layers.${l}`;
    const b = `blk.${l}`;
    list.push(
      [`${b}.attn_norm.weight`, shape(`${p}.input_layernorm.weight`), get(`${p}.input_layernorm.weight`), true],
      [`${b}.attn_q.weight`, shape(`${p}.self_attn.q_proj.weight`), permuteRotaryRows(get(`${p}.self_attn.q_proj.weight`), config.num_attention_heads, K), false],
      [`${b}.attn_k.weight`, shape(`${p}.self_attn.k_proj.weight`), permuteRotaryRows(get(`${p}.self_attn.k_proj.weight`), config.num_key_value_heads, K), false],
      [`${b}.attn_v.weight`, shape(`${p}.self_attn.v_proj.weight`), get(`${p}.self_attn.v_proj.weight`), false],
      [`${b}.attn_output.weight`, shape(`${p}.self_attn.o_proj.weight`), get(`${p}.self_attn.o_proj.weight`), false],
      [`${b}.ffn_norm.weight`, shape(`${p}.post_attention_layernorm.weight`), get(`${p}.post_attention_layernorm.weight`), true],
      [`${b}.ffn_gate.weight`, shape(`${p}.mlp.gate_proj.weight`), get(`${p}.mlp.gate_proj.weight`), false],
      [`${b}.ffn_up.weight`, shape(`${p}.mlp.up_proj.weight`), get(`${p}.mlp.up_proj.weight`), false],
      [`${b}.ffn_down.weight`, shape(`${p}.mlp.down_proj.weight`), get(`${p}.mlp.down_proj.weight`), false],
    );
  }
  list.push(['output_norm.weight', shape('model.norm.weight'), get('model.norm.weight'), true]);
  const head = config.tie_word_embeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
  list.push(['output.weight', shape(head), get(head), false]);
  return list;
}

/** Writes `out` from the model directory `dir` with matrices in `dtype` ('F32' or 'BF16'). */
export function convertToGguf(dir, out, dtype) {
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const tokenizer = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
  if (!(config.architectures ?? []).includes('LlamaForCausalLM')) {
    throw new Error(`gguf: ${dir} is ${config.architectures}; this converter writes LlamaForCausalLM checkpoints only`);
  }
  const st = readSafetensors(join(dir, 'model.safetensors'));
  const biases = [...st.keys()].filter((n) => n.endsWith('.bias'));
  if (biases.length > 0) throw new Error(`gguf: ${dir} has biases (${biases[0]}, ...), which this converter does not write`);
  const list = tensors(config, st).map(([name, shape, data, keepF32]) => {
    const bf16 = dtype === 'BF16' && !keepF32;
    return { name, dims: [...shape].reverse(), type: bf16 ? GGML.BF16 : GGML.F32, bytes: bf16 ? toBf16(data) : data };
  });
  const head = new Bytes();
  head.push(Buffer.from('GGUF', 'ascii'));
  head.u32(3);
  const kvs = metadata(config, tokenizer, FILE_TYPE[dtype]);
  head.u64(list.length);
  head.u64(kvs.length);
  for (const [k, type, v, elem] of kvs) writeKv(head, k, type, v, elem);
  let offset = 0;
  for (const t of list) {
    head.str(t.name);
    head.u32(t.dims.length);
    for (const d of t.dims) head.u64(d);
    head.u32(t.type);
    head.u64(offset);
    offset += Math.ceil(t.bytes.byteLength / ALIGN) * ALIGN;
  }
  head.push(Buffer.alloc((ALIGN - (head.length % ALIGN)) % ALIGN));
  const fd = openSync(out, 'w');
  try {
    for (const p of head.parts) writeSync(fd, p);
    for (const t of list) {
      writeSync(fd, new Uint8Array(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength));
      writeSync(fd, Buffer.alloc((ALIGN - (t.bytes.byteLength % ALIGN)) % ALIGN));
    }
  } finally {
    closeSync(fd);
  }
}
