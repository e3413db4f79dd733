#!/usr/bin/env node
// Writes a random-weight Llama checkpoint in Hugging Face layout (config.json, model.safetensors, the tiny test
// model's tokenizer, whose vocabulary sets vocab_size), so the GPU run needs no download. Both Sluice and
// transformers load the same files.
//   node write-model.mjs OUT_DIR --shape parity|parity-bf16|llama-1b|tiny --tokenizer-from DIR
import { closeSync, copyFileSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

// head dim 64 for the parity models (a head dim the CUDA attention kernels have); Llama-3.2-1B's layer shapes.
export const SHAPES = {
  tiny: { hidden: 64, intermediate: 128, layers: 2, heads: 4, kvHeads: 2, dtype: 'F32', maxPos: 2048 },
  parity: { hidden: 256, intermediate: 512, layers: 2, heads: 4, kvHeads: 2, dtype: 'F32', maxPos: 2048 },
  'parity-bf16': { hidden: 256, intermediate: 512, layers: 2, heads: 4, kvHeads: 2, dtype: 'BF16', maxPos: 2048 },
  'llama-1b': { hidden: 2048, intermediate: 8192, layers: 16, heads: 32, kvHeads: 8, dtype: 'BF16', maxPos: 2048 },
};

function tensorList(s, vocab) {
  const d = s.hidden / s.heads;
  const list = [['model.embed_tokens.weight', [vocab, s.hidden]]];
  for (let l = 0; l < s.layers; l++) {
    const p = `model.layers.${l}`;
    list.push(
      [`${p}.input_layernorm.weight`, [s.hidden], 'ones'],
      [`${p}.self_attn.q_proj.weight`, [s.heads * d, s.hidden]],
      [`${p}.self_attn.k_proj.weight`, [s.kvHeads * d, s.hidden]],
      [`${p}.self_attn.v_proj.weight`, [s.kvHeads * d, s.hidden]],
      [`${p}.self_attn.o_proj.weight`, [s.hidden, s.heads * d]],
      [`${p}.post_attention_layernorm.weight`, [s.hidden], 'ones'],
      [`${p}.mlp.gate_proj.weight`, [s.intermediate, s.hidden]],
      [`${p}.mlp.up_proj.weight`, [s.intermediate, s.hidden]],
      [`${p}.mlp.down_proj.weight`, [s.hidden, s.intermediate]],
    );
  }
  list.push(['model.norm.weight', [s.hidden], 'ones'], ['lm_head.weight', [vocab, s.hidden]]);
  return list;
}

// Uniform weights with std 1/sqrt(fan-in) (xorshift32), so activations keep their scale through the layers.
function fill(n, seed, fanIn, ones) {
  const out = new Float32Array(n);
  if (ones) return out.fill(1);
  let x = seed >>> 0 || 1;
  const scale = Math.sqrt(12 / fanIn);
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = ((x >>> 0) / 4294967296 - 0.5) * scale;
  }
  return out;
}

// A plain loop: Uint16Array.from with a map callback took minutes on the 1B shape.
function bf16Bytes(data) {
  const bits = new Uint32Array(data.buffer);
  const out = new Uint16Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i] >>> 16;
  return new Uint8Array(out.buffer);
}

function writeSafetensors(path, list, dtype) {
  const size = dtype === 'F32' ? 4 : 2;
  const header = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const [name, shape] of list) {
    const bytes = size * shape.reduce((a, b) => a * b, 1);
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, len);
    writeSync(fd, json);
    list.forEach(([, shape, init], i) => {
      const data = fill(shape.reduce((a, b) => a * b, 1), 0x9e3779b9 ^ (i + 1), shape[shape.length - 1], init === 'ones');
      // bf16 by truncation of the f32 bits: the weights are random, rounding mode does not matter.
      writeSync(fd, dtype === 'F32' ? new Uint8Array(data.buffer) : bf16Bytes(data));
    });
  } finally {
    closeSync(fd);
  }
}

export function writeModel(outDir, shapeName, tokenizerDir) {
  const s = SHAPES[shapeName];
  if (!s) throw new Error(`write-model: unknown shape '${shapeName}' (one of ${Object.keys(SHAPES).join(', ')})`);
  const base = JSON.parse(readFileSync(join(tokenizerDir, 'config.json'), 'utf8'));
  const vocab = base.vocab_size;
  mkdirSync(outDir, { recursive: true });
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) copyFileSync(join(tokenizerDir, f), join(outDir, f));
  writeFileSync(join(outDir, 'config.json'), JSON.stringify({
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: s.hidden, intermediate_size: s.intermediate,
    num_hidden_layers: s.layers, num_attention_heads: s.heads, num_key_value_heads: s.kvHeads, head_dim: s.hidden / s.heads,
    hidden_act: 'silu', max_position_embeddings: s.maxPos, rms_norm_eps: 1e-5, vocab_size: vocab, tie_word_embeddings: false,
    bos_token_id: base.bos_token_id, eos_token_id: base.eos_token_id, torch_dtype: s.dtype === 'F32' ? 'float32' : 'bfloat16',
    attention_bias: false, mlp_bias: false, rope_theta: 500000, rope_scaling: null,
  }, null, 2));
  writeSafetensors(join(outDir, 'model.safetensors'), tensorList(s, vocab), s.dtype);
  return outDir;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { shape: { type: 'string' }, 'tokenizer-from': { type: 'string' } } });
  if (positionals.length !== 1 || !values.shape || !values['tokenizer-from']) {
    console.error('usage: write-model.mjs OUT_DIR --shape NAME --tokenizer-from DIR');
    process.exit(2);
  }
  writeModel(positionals[0], values.shape, values['tokenizer-from']);
  console.log(`write-model: ${values.shape} -> ${positionals[0]}`);
}
