// A ~100M-parameter Llama with random weights, written once under .cache/models/bench-llama-100m: the
// shape of a small real model (12 layers, hidden 768, GQA 12/4 heads) so the engine benchmark measures
// realistic per-token compute, with the tiny test model's tokenizer (its vocabulary sets vocab_size).
import { createHash } from 'node:crypto';
import {
  closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, writeFileSync, writeSync,
} from 'node:fs';
import { join } from 'node:path';

export const SHAPE = { hidden: 768, intermediate: 3072, layers: 12, heads: 12, kvHeads: 4 };

// xorshift32 scaled to a uniform with the standard deviation asked for; weights only need plausible scale.
function fillUniform(out, seed, std) {
  let s = seed >>> 0 || 1;
  const scale = std * Math.sqrt(12);
  for (let i = 0; i < out.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296 - 0.5) * scale;
  }
  return out;
}

function tensorsOf(shape, vocab) {
  const { hidden, intermediate, layers, heads, kvHeads } = shape;
  const headDim = hidden / heads;
  const list = [['model.embed_tokens.weight', [vocab, hidden], 0.02]];
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    list.push(
      [`${p}.input_layernorm.weight`, [hidden], 'ones'],
      [`${p}.self_attn.q_proj.weight`, [heads * headDim, hidden], 0.02],
      [`${p}.self_attn.k_proj.weight`, [kvHeads * headDim, hidden], 0.02],
      [`${p}.self_attn.v_proj.weight`, [kvHeads * headDim, hidden], 0.02],
      [`${p}.self_attn.o_proj.weight`, [hidden, heads * headDim], 0.02],
      [`${p}.post_attention_layernorm.weight`, [hidden], 'ones'],
      [`${p}.mlp.gate_proj.weight`, [intermediate, hidden], 0.02],
      [`${p}.mlp.up_proj.weight`, [intermediate, hidden], 0.02],
      [`${p}.mlp.down_proj.weight`, [hidden, intermediate], 0.02],
    );
  }
  list.push(['model.norm.weight', [hidden], 'ones'], ['lm_head.weight', [vocab, hidden], 0.02]);
  return list;
}

// safetensors: 8-byte header length, JSON header, then the F32 data, written tensor by tensor.
function writeSafetensors(path, list) {
  const header = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const [name, shape] of list) {
    const bytes = 4 * shape.reduce((a, b) => a * b, 1);
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + bytes] };
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
      const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
      if (init === 'ones') data.fill(1);
      else fillUniform(data, 0x9e3779b9 ^ (i + 1), init);
      writeSync(fd, new Uint8Array(data.buffer));
    });
  } finally {
    closeSync(fd);
  }
  return offset / 4;
}

/**
 * Writes a random Llama next to the tiny one unless a complete copy with this shape and config is there; returns
 * its directory. The defaults give the ~100M model; `config` overrides config.json fields (max_position_embeddings).
 */
export function ensureRandomLlama(modelsDir, { name = 'bench-llama-100m', shape = SHAPE, config: extra = {}, tinyName = 'tiny-llama' } = {}) {
  const dir = join(modelsDir, name);
  const tiny = join(modelsDir, tinyName);
  if (!existsSync(join(tiny, 'config.json'))) {
    throw new Error(`${tiny} is missing: run \`npm run setup\` at the repository root first (it writes the tiny models)`);
  }
  // Rewritten when the shape or the tiny model's tokenizer and config change.
  const tinyHash = createHash('sha256').update(readFileSync(join(tiny, 'config.json')))
    .update(readFileSync(join(tiny, 'tokenizer.json'))).digest('hex');
  // The 100M model's stamp is unchanged by the config overrides, so an existing copy is not rewritten.
  const stamp = JSON.stringify({ ...shape, ...(Object.keys(extra).length > 0 && { config: extra }), tinyHash });
  const stampPath = join(dir, '.bench-shape.json');
  if (existsSync(stampPath) && readFileSync(stampPath, 'utf8') === stamp) return dir;
  const base = JSON.parse(readFileSync(join(tiny, 'config.json'), 'utf8'));
  const config = {
    ...base,
    hidden_size: shape.hidden, intermediate_size: shape.intermediate, num_hidden_layers: shape.layers,
    num_attention_heads: shape.heads, num_key_value_heads: shape.kvHeads, head_dim: shape.hidden / shape.heads,
    tie_word_embeddings: false,
    ...extra,
  };
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) {
    if (existsSync(join(tiny, f))) writeFileSync(join(tmp, f), readFileSync(join(tiny, f)));
  }
  writeFileSync(join(tmp, 'config.json'), JSON.stringify(config, null, 2));
  const params = writeSafetensors(join(tmp, 'model.safetensors'), tensorsOf(shape, config.vocab_size));
  writeFileSync(join(tmp, '.bench-shape.json'), stamp);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  console.log(`wrote ${dir} (${(params / 1e6).toFixed(1)}M parameters)`);
  return dir;
}

/** Parameters of the model in `dir`, counted from its safetensors header. */
export function parameterCount(dir) {
  const fd = openSync(join(dir, 'model.safetensors'), 'r');
  try {
    const len = Buffer.alloc(8);
    readSync(fd, len, 0, 8, 0);
    const json = Buffer.alloc(Number(len.readBigUInt64LE(0)));
    readSync(fd, json, 0, json.length, 8);
    return Object.entries(JSON.parse(json.toString('utf8')))
      .filter(([k]) => k !== '__metadata__')
      .reduce((n, [, t]) => n + t.shape.reduce((a, b) => a * b, 1), 0);
  } finally {
    closeSync(fd);
  }
}
