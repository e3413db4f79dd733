#!/usr/bin/env node
// One fixed decode workload through the engine of a given checkout, for whole-process A/B comparisons of two
// commits (run it alternately from each checkout, e.g. under /usr/bin/time -v, and compare pair by pair):
// 16 greedy requests x 96 prompt / 48 output tokens on the 100M bench model (written by `node bench/engine/engine.mjs`).
// Usage: node bench/engine/ab-engine.mjs [CHECKOUT]   (default: this one; build it first)
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const root = resolve(process.argv[2] ?? here);
const { LLMEngine } = createRequire(join(root, 'package.json'))('@sluice/engine');
const model = join(process.env.SLUICE_MODELS_DIR ?? join(here, '.cache', 'models'), 'bench-llama-100m');

const engine = await LLMEngine.create({ model, device: 'cpu', maxNumSeqs: 16 });
for (let i = 0; i < 16; i++) {
  const ids = Array.from({ length: 96 }, (_, j) => (i * 131 + j * 17) % 900);
  await engine.addRequest(`r${i}`, { promptTokenIds: ids }, { temperature: 0, ignoreEos: true, maxTokens: 48 });
}
const t0 = process.hrtime.bigint();
while (engine.hasUnfinishedRequests()) engine.step();
console.log(`${root}: ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(0)} ms for 16 x 48 tokens`);
engine.close();
