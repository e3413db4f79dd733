#!/usr/bin/env node
// Writes a random-weight Llama checkpoint in Hugging Face layout (config.json, model.safetensors, the tiny test
// model's tokenizer, whose vocabulary sets vocab_size), so the GPU run needs no download. Both Sluice and
// transformers load the same files.
//   node write-model.mjs OUT_DIR --shape parity|parity-bf16|llama-1b|tiny --tokenizer-from DIR
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { llamaTensors, writeRandomSafetensors } from '../lib/random-weights.mjs';

// head dim 64 for the parity models (a head dim the CUDA attention kernels have); Llama-3.2-1B's layer shapes.
export const SHAPES = {
  tiny: { hidden: 64, intermediate: 128, layers: 2, heads: 4, kvHeads: 2, dtype: 'F32', maxPos: 2048 },
  parity: { hidden: 256, intermediate: 512, layers: 2, heads: 4, kvHeads: 2, dtype: 'F32', maxPos: 2048 },
  'parity-bf16': { hidden: 256, intermediate: 512, layers: 2, heads: 4, kvHeads: 2, dtype: 'BF16', maxPos: 2048 },
  'llama-1b': { hidden: 2048, intermediate: 8192, layers: 16, heads: 32, kvHeads: 8, dtype: 'BF16', maxPos: 2048 },
};

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
  // std 1/sqrt(fan-in), so activations keep their scale through the layers.
  writeRandomSafetensors(join(outDir, 'model.safetensors'), llamaTensors(s, vocab, (shape) => 1 / Math.sqrt(shape[shape.length - 1])), s.dtype);
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
