#!/usr/bin/env node
// Engine throughput on CPU: a fixed mixed workload (seeded prompt and output lengths, half the requests
// sharing a 64-token prefix, ignore_eos so every request generates exactly its max_tokens) through
// LLMEngine with continuous batching, and with static batches of the same size (submit a batch, step
// until all of it finishes, then the next). Models: the tiny test Llama and a ~100M-parameter random Llama.
// Then KV cache waste on the mixed-length workload W2 (kv-waste.mjs); --waste-only runs just that part.
// Usage: node bench/engine/engine.mjs [--quick] [--waste-only] [--write]   (build first: npx nx run-many -t build)
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runWasteCase, W2, w2Requests, WASTE_CASES, wasteSection } from './kv-waste.mjs';
import { ensureRandomLlama, parameterCount } from './random-llama.mjs';
import { rng } from './rng.mjs';

const require = createRequire(import.meta.url);
const { LLMEngine } = require('@sluice/engine');
const { machineLine, markdownTable, upsertSection } = require('@sluice/bench');

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const modelsDir = process.env.SLUICE_MODELS_DIR ?? join(root, '.cache', 'models');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const BATCH = 16;
const SHARED_PREFIX = 64;

/**
 * n requests: prompts of 16-192 tokens (even-numbered ones start with the same 64 tokens), outputs of
 * 8-32 tokens (70%) or 64-128 tokens (30%), sampled at temperature 0.8 with a per-request seed.
 */
function workload(n, tokenBound) {
  const next = rng(20261130);
  const int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));
  const prefix = Array.from({ length: SHARED_PREFIX }, () => int(0, tokenBound - 1));
  return Array.from({ length: n }, (_, i) => {
    const shared = i % 2 === 0;
    const len = int(shared ? SHARED_PREFIX + 16 : 16, 192);
    const own = Array.from({ length: len - (shared ? SHARED_PREFIX : 0) }, () => int(0, tokenBound - 1));
    const maxTokens = next() < 0.7 ? int(8, 32) : int(64, 128);
    return {
      id: `r${i}`,
      input: { promptTokenIds: shared ? [...prefix, ...own] : own },
      params: { temperature: 0.8, topP: 0.95, seed: i, ignoreEos: true, maxTokens },
    };
  });
}

// Steps until every added request has finished; returns the generated token count per request.
function drain(engine, generated) {
  while (engine.hasUnfinishedRequests()) {
    for (const out of engine.step()) {
      if (out.finished) generated.set(out.requestId, out.outputs[0].tokenIds.length);
    }
  }
}

async function runMode(model, requests, mode) {
  // A short warm-up on its own engine, so the measured one starts with a cold prefix cache and clean stats.
  const warm = await LLMEngine.create({ model, device: 'cpu', maxNumSeqs: BATCH });
  await warm.addRequest('warm', { promptTokenIds: requests[1].input.promptTokenIds }, { maxTokens: 4, ignoreEos: true });
  drain(warm, new Map());
  warm.close();

  const engine = await LLMEngine.create({ model, device: 'cpu', maxNumSeqs: BATCH });
  const generated = new Map();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  if (mode === 'continuous') {
    for (const r of requests) await engine.addRequest(r.id, r.input, r.params);
    drain(engine, generated);
  } else {
    for (let i = 0; i < requests.length; i += BATCH) {
      for (const r of requests.slice(i, i + BATCH)) await engine.addRequest(r.id, r.input, r.params);
      drain(engine, generated);
    }
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpuUse = process.cpuUsage(cpu0);
  const stats = engine.stats();
  engine.close();
  for (const r of requests) {
    if (generated.get(r.id) !== r.params.maxTokens) {
      throw new Error(`${mode}: request ${r.id} generated ${generated.get(r.id)} tokens, expected ${r.params.maxTokens}`);
    }
  }
  const outputTokens = requests.reduce((s, r) => s + r.params.maxTokens, 0);
  return {
    mode, wall, cpu: (cpuUse.user + cpuUse.system) / 1e6, outputTokens, steps: stats.stepCount,
    meanKvWaste: stats.meanKvWaste, prefixHitRate: stats.prefixCacheHitRate, preemptions: stats.numPreemptions,
  };
}

// Best wall time of `repeats` runs per mode, the modes alternating, so a burst of load from other jobs on a
// shared machine hits both modes alike rather than whichever ran during it.
async function benchModel(label, model, n, repeats) {
  const config = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8'));
  // Prompt ids stay below the special tokens, which the tiny tokenizer numbers after the ordinary ones.
  const requests = workload(n, Math.min(config.bos_token_id, config.eos_token_id));
  const params = parameterCount(model);
  const best = new Map();
  for (let i = 0; i < repeats; i++) {
    for (const mode of ['continuous', 'static']) {
      const r = await runMode(model, requests, mode);
      console.log(`${label} ${mode}: ${r.wall.toFixed(2)} s, ${(n / r.wall).toFixed(2)} req/s, `
        + `${(r.outputTokens / r.wall).toFixed(1)} output tok/s (${(r.outputTokens / r.cpu).toFixed(1)} per CPU-second), `
        + `${r.steps} steps, mean KV waste ${(100 * r.meanKvWaste).toFixed(1)}%, prefix hit rate `
        + `${(100 * r.prefixHitRate).toFixed(1)}%, ${r.preemptions} preemptions`);
      if (!best.has(mode) || r.wall < best.get(mode).wall) best.set(mode, r);
    }
  }
  const promptTokens = requests.reduce((t, r) => t + r.input.promptTokenIds.length, 0);
  return { label, params, n, repeats, promptTokens, runs: [best.get('continuous'), best.get('static')] };
}

async function main() {
  const date = new Date().toISOString();
  const load0 = loadavg()[0];
  console.log(`date: ${date}\nmachine: ${machineLine()}\nload average at start: ${load0.toFixed(2)}`);
  const write = args.includes('--write');
  if (!args.includes('--waste-only')) {
    const big = ensureRandomLlama(modelsDir);
    const results = [
      await benchModel('tiny-llama', join(modelsDir, 'tiny-llama'), quick ? 32 : 128, 3),
      await benchModel('random Llama 100M', big, quick ? 32 : 48, quick ? 1 : 2),
    ];
    const load1 = loadavg()[0];
    console.log(`load average at end: ${load1.toFixed(2)}`);
    for (const m of results) console.log(speedup(m));
    if (write) writeDocs(date, load0, load1, results);
  }
  await benchWaste(write);
}

// W2 through each cache configuration on the tiny model; --quick takes its first quarter of requests.
async function benchWaste(write) {
  const date = new Date().toISOString();
  const model = join(modelsDir, 'tiny-llama');
  const config = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8'));
  const requests = w2Requests(quick ? W2.requests / 4 : W2.requests, Math.min(config.bos_token_id, config.eos_token_id));
  const load0 = loadavg()[0];
  const results = [];
  for (const c of WASTE_CASES) {
    const r = await runWasteCase(model, requests, c);
    console.log(`W2 block ${r.blockSize}, ${r.numBlocks} blocks: mean KV waste ${(100 * r.meanKvWaste).toFixed(2)}%, `
      + `peak KV usage ${(100 * r.peakUsage).toFixed(1)}%, ${r.preemptions} preemptions, ${r.steps} steps, ${r.wall.toFixed(1)} s; `
      + `${r.seqsPerStep.toFixed(1)} sequences per step holding ${r.tokensPerSeq.toFixed(0)} positions each, `
      + `${r.emptyPerSeq.toFixed(2)} empty slots in each one's last block (${(100 * r.tailShare).toFixed(1)}% of all empty held slots)`);
    results.push(r);
  }
  const load1 = loadavg()[0];
  if (!write) return;
  const body = wasteSection({
    date, machine: machineLine(), command: `npm run bench:engine -w @sluice/bench -- ${args.join(' ')}`,
    threads: availableParallelism(), load: [load0, load1], requests, results, markdownTable,
  });
  upsertSection(join(root, 'docs', 'benchmarks.md'), 'Engine: KV cache waste on the mixed-length workload W2', body);
  console.log('wrote docs/benchmarks.md (KV waste)');
}

function speedup(m) {
  const [c, s] = m.runs;
  return `${m.label}: continuous batching gives ${(s.wall / c.wall).toFixed(2)}x the output tokens/s of static batches `
    + `wall-clock, ${(s.cpu / c.cpu).toFixed(2)}x per CPU-second, in ${(s.steps / c.steps).toFixed(2)}x fewer steps `
    + `(${m.n} requests: ${m.promptTokens} prompt tokens, the same in both modes, and ${c.outputTokens} output tokens)`;
}

function writeDocs(date, load0, load1, results) {
  const pct = (x) => `${(100 * x).toFixed(1)}%`;
  const rows = results.flatMap((m) => m.runs.map((r) => [
    m.label, `${(m.params / 1e6).toFixed(m.params < 1e6 ? 2 : 1)}M`, r.mode, m.n, r.wall.toFixed(2), (m.n / r.wall).toFixed(2),
    (r.outputTokens / r.wall).toFixed(1), (r.outputTokens / r.cpu).toFixed(1), r.steps, pct(r.meanKvWaste),
    pct(r.prefixHitRate), r.preemptions,
  ]));
  const table = markdownTable(
    ['model', 'params', 'batching', 'requests', 'wall s', 'req/s', 'output tok/s', 'output tok per CPU-s', 'steps',
      'mean KV waste', 'prefix hit rate', 'preemptions'],
    rows,
  );
  const speedups = results.map(speedup);
  const body = [
    `Measured ${date} on ${machineLine()} with \`npm run bench:engine -w @sluice/bench\` `
      + `(bench/engine/engine.mjs${quick ? ' --quick' : ''}), LLMEngine on the CPU backend (${availableParallelism()} threads), `
      + `maxNumSeqs ${BATCH}, default cache (256 MiB KV, block 16, prefix caching on).`,
    `Workload (fixed seed): prompts of 16-192 tokens, half of them opening with the same ${SHARED_PREFIX}-token prefix; `
      + 'outputs of 8-32 tokens (70%) or 64-128 tokens (30%), temperature 0.8, top-p 0.95, a seed per request, '
      + '`ignoreEos` so each request generates exactly its `maxTokens` (checked). Continuous: every request added at once, '
      + `the scheduler admits up to ${BATCH} at a time. Static: batches of ${BATCH} requests, each stepped until all of it has `
      + 'finished before the next is added. Each mode runs on a fresh engine after a short warm-up on another; the modes '
      + `alternate, ${results.map((m) => `${m.repeats} times each on ${m.label}`).join(' and ')}, and each mode's fastest run is kept.`,
    `Models: the tiny test Llama (.cache/models/tiny-llama) and a random-weight Llama of ${results[1].params.toLocaleString('en-US')} `
      + 'parameters (12 layers, hidden 768, 12 query / 4 KV heads, MLP 3072; written once to .cache/models/bench-llama-100m '
      + 'with the tiny tokenizer, whose 902-token vocabulary keeps the embeddings small).',
    `Load: the 2 cores were shared with other jobs (load average ${load0.toFixed(2)} at start, ${load1.toFixed(2)} at end), `
      + 'so wall-clock rates are lower bounds; output tokens per CPU-second (process CPU time, all threads) is less '
      + 'sensitive to that. Mean KV waste is the empty share of held KV slots averaged over steps; the prefix hit rate is '
      + 'the share of looked-up prompt tokens found in cached blocks.',
    table,
    speedups.map((s) => `- ${s}`).join('\n'),
  ].join('\n\n');
  upsertSection(join(root, 'docs', 'benchmarks.md'), 'Engine: CPU throughput, continuous vs static batching', body);
  console.log('wrote docs/benchmarks.md');
}

await main();
