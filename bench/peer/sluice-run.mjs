// One Sluice run of the peer benchmark, in its own process: the workload llama-batched-bench runs (B sequences of
// PP random prompt token ids, then TG decode forward passes each, greedy, eos ignored), printed as one JSON line.
// Sluice generates TG + 1 tokens: its prefill step samples the first one, so it makes the same forward passes as
// llama.cpp's prefill + TG decodes, and TG tokens are counted, as llama.cpp counts them.
// Usage: node bench/peer/sluice-run.mjs <model dir> <float32|bfloat16> <pp> <tg> <B,...> [kv cache dtype: auto|bfloat16]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { rng } from '../engine/rng.mjs';

// Threads wait awake between ops, as llama.cpp's do (the product default is 0: see @sluice/cuda-kernels' README).
process.env.SLUICE_CPU_SPIN_US ??= '100';
const require = createRequire(import.meta.url);
const { LLMEngine } = require('@sluice/engine');

const [model, dtype, ppArg, tgArg, batchesArg, kvCacheDtype = 'auto'] = process.argv.slice(2);
const [pp, tg] = [Number(ppArg), Number(tgArg)];
const batches = batchesArg.split(',').map(Number);
const now = () => Number(process.hrtime.bigint()) / 1e9;
const vocab = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')).vocab_size;

// Adds B requests and waits until the engine holds all of them (addRequest prepares prompts asynchronously).
async function requests(engine, B, prompt, maxTokens, tag) {
  const next = rng(B * 7919 + prompt);
  const added = [];
  for (let j = 0; j < B; j++) {
    const ids = Array.from({ length: prompt }, () => Math.floor(next() * vocab));
    added.push(engine.addRequest(`${tag}${j}`, { promptTokenIds: ids }, { temperature: 0, maxTokens, ignoreEos: true }));
  }
  await Promise.all(added);
}

/** Wall time of the whole run, and of the decode steps after every sequence has its first token. */
async function runBatch(engine, B) {
  await requests(engine, B, pp, tg + 1, `b${B}-`);
  const t0 = now();
  let started = 0;
  let tDecode;
  while (engine.hasUnfinishedRequests()) {
    for (const out of engine.step()) if (out.outputs[0].tokenIds.length === 1) started++;
    if (tDecode === undefined && started === B) tDecode = now();
  }
  const t1 = now();
  return { B, pp, tg, t: t1 - t0, tTg: t1 - tDecode, speed: (B * (pp + tg)) / (t1 - t0), speedTg: (B * tg) / (t1 - tDecode) };
}

const engine = await LLMEngine.create({
  model, device: 'cpu', dtype, kvCacheDtype, maxNumSeqs: Math.max(...batches), maxNumBatchedTokens: 2048,
  kvCacheBytes: 1024 * 2 ** 20, enablePrefixCaching: false,
});
try {
  await requests(engine, 2, 16, 4, 'warm-');
  while (engine.hasUnfinishedRequests()) engine.step();
  const results = [];
  for (const B of batches) results.push(await runBatch(engine, B));
  console.log(JSON.stringify({ dtype: engine.config.dtype, kvCacheDtype: engine.config.kvCacheDtype, cpuKernels: engine.config.cpuKernels, results }));
} finally {
  engine.close();
}
