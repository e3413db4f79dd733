// Random-weight Llama checkpoints for the benchmarks (the CPU bench model and the GPU run's models): one tensor
// layout and one safetensors writer, so both write the files Sluice and transformers load the same way.
import { closeSync, openSync, writeSync } from 'node:fs';

/**
 * A Llama's tensors in Hugging Face names: [name, shape, init], init 'ones' for norms, else the weights' standard
 * deviation, `std(shape)` (a number, or from the shape, e.g. 1/sqrt(fan-in)).
 */
export function llamaTensors({ hidden, intermediate, layers, heads, kvHeads }, vocab, std) {
  const d = hidden / heads;
  const w = (name, shape) => [name, shape, typeof std === 'function' ? std(shape) : std];
  const list = [w('model.embed_tokens.weight', [vocab, hidden])];
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    list.push(
      [`${p}.input_layernorm.weight`, [hidden], 'ones'],
      w(`${p}.self_attn.q_proj.weight`, [heads * d, hidden]),
      w(`${p}.self_attn.k_proj.weight`, [kvHeads * d, hidden]),
      w(`${p}.self_attn.v_proj.weight`, [kvHeads * d, hidden]),
      w(`${p}.self_attn.o_proj.weight`, [hidden, heads * d]),
      [`${p}.post_attention_layernorm.weight`, [hidden], 'ones'],
      w(`${p}.mlp.gate_proj.weight`, [intermediate, hidden]),
      w(`${p}.mlp.up_proj.weight`, [intermediate, hidden]),
      w(`${p}.mlp.down_proj.weight`, [hidden, intermediate]),
    );
  }
  list.push(['model.norm.weight', [hidden], 'ones'], w('lm_head.weight', [vocab, hidden]));
  return list;
}

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

// bf16 by truncation of the f32 bits (the weights are random: the rounding mode does not matter), in a plain loop:
// Uint16Array.from with a map callback took minutes on a 1B-parameter model.
function bf16Bytes(data) {
  const bits = new Uint32Array(data.buffer);
  const out = new Uint16Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i] >>> 16;
  return new Uint8Array(out.buffer);
}

/**
 * safetensors: 8-byte header length, JSON header, then each tensor's data (F32 or BF16), tensor i filled from seed
 * 0x9e3779b9 ^ (i + 1). Returns the parameter count.
 */
export function writeRandomSafetensors(path, list, dtype = 'F32') {
  const size = dtype === 'F32' ? 4 : 2;
  const header = { __metadata__: { format: 'pt' } };
  let params = 0;
  for (const [name, shape] of list) {
    const n = shape.reduce((a, b) => a * b, 1);
    header[name] = { dtype, shape, data_offsets: [params * size, (params + n) * size] };
    params += n;
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
      writeSync(fd, dtype === 'F32' ? new Uint8Array(data.buffer) : bf16Bytes(data));
    });
  } finally {
    closeSync(fd);
  }
  return params;
}
