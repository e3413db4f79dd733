// A ~100M-parameter Llama with random weights, written once under .cache/models/bench-llama-100m: the
// shape of a small real model (12 layers, hidden 768, GQA 12/4 heads) so the engine benchmark measures
// realistic per-token compute, with the tiny test model's tokenizer (its vocabulary sets vocab_size).
import { createHash } from 'node:crypto';
import {
  closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { llamaTensors, writeRandomSafetensors } from '../lib/random-weights.mjs';

export const SHAPE = { hidden: 768, intermediate: 3072, layers: 12, heads: 12, kvHeads: 4 };

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
  const params = writeRandomSafetensors(join(tmp, 'model.safetensors'), llamaTensors(shape, config.vocab_size, 0.02));
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
