#!/usr/bin/env node
// Sluice against llama.cpp on this CPU, side by side in one invocation: the bench Llama (bench/engine/random-llama.mjs)
// in F32 and BF16, converted to GGUF by gguf.mjs, run by llama-batched-bench (llama-cpp.mjs builds it) and by
// sluice-run.mjs on the same workload: 128 prompt and 128 decode tokens per sequence, batches of 1 and 64.
// Runs alternate (llama.cpp first in even rounds, Sluice first in odd ones) because llama.cpp's spinning threads
// collapse under load; each run takes SLUICE_BENCH_LOCK (a flock file) when set, so no other heavy job overlaps it.
// Sluice's KV cache is bf16 by default, 16-bit as llama.cpp's default f16 cache; --kv-cache-dtype auto keeps it f32.
// Usage: node bench/peer/peer.mjs [--rounds N] [--kv-cache-dtype bfloat16|auto] [--write]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureRandomLlama, parameterCount, SHAPE } from '../engine/random-llama.mjs';
import { convertToGguf } from './gguf.mjs';
import { ensureLlamaBatchedBench, llamaCppTag, NODE_LLAMA_CPP } from './llama-cpp.mjs';

const require = createRequire(import.meta.url);
const { machineLine, markdownTable, upsertSection } = require('@sluice/bench');

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const modelsDir = process.env.SLUICE_MODELS_DIR ?? join(root, '.cache', 'models');
const args = process.argv.slice(2);
const ROUNDS = args.includes('--rounds') ? Number(args[args.indexOf('--rounds') + 1]) : 5;
const KV = args.includes('--kv-cache-dtype') ? args[args.indexOf('--kv-cache-dtype') + 1] : 'bfloat16';
const [PP, TG, BATCHES] = [128, 128, [1, 64]];
const THREADS = availableParallelism();
const DTYPES = [{ gguf: 'F32', sluice: 'float32', bytes: 4 }, { gguf: 'BF16', sluice: 'bfloat16', bytes: 2 }];
const fmt = (x, d = 1) => x.toFixed(d);

// Runs a command under SLUICE_BENCH_LOCK when set; returns stdout.
function locked(cmd, cmdArgs) {
  const lock = process.env.SLUICE_BENCH_LOCK;
  const [c, a] = lock ? ['flock', [lock, cmd, ...cmdArgs]] : [cmd, cmdArgs];
  return execFileSync(c, a, { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
}

// The read bandwidth and FMA peak with every thread, in a child under the lock like the runs.
function measurePeaks() {
  const script = `const k = require('@sluice/cuda-kernels');
    const bandwidth = k.cpuReadBandwidth(${THREADS});
    let lanes = 16, fma;
    try { fma = k.cpuFmaPeak(16, ${THREADS}); } catch { lanes = 8; fma = k.cpuFmaPeak(8, ${THREADS}); }
    console.log(JSON.stringify({ bandwidth, lanes, fma: fma.reduce((a, b) => a + b, 0) }));`;
  return JSON.parse(locked(process.execPath, ['-e', script]).trim());
}

function ggufOf(model, dtype) {
  const dir = join(root, '.cache', 'peer');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `bench-llama-100m-${dtype}.gguf`);
  const source = join(model, 'model.safetensors');
  if (!existsSync(out) || statSync(out).mtimeMs < statSync(source).mtimeMs) convertToGguf(model, out, dtype);
  return out;
}

function runLlama(bin, gguf) {
  const ctx = Math.max(...BATCHES) * (PP + TG) + 256;
  const out = locked(bin, ['-m', gguf, '-c', String(ctx), '-b', '2048', '-ub', '512', '-npp', String(PP), '-ntg', String(TG),
    '-npl', BATCHES.join(','), '-t', String(THREADS), '-tb', String(THREADS), '--output-format', 'jsonl']);
  return out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
    .map((r) => ({ B: r.pl, speed: r.speed, speedTg: r.speed_tg }));
}

function runSluice(model, dtype) {
  const out = locked(process.execPath, [join(here, 'sluice-run.mjs'), model, dtype, String(PP), String(TG), BATCHES.join(','), KV]);
  return JSON.parse(out.trim().split('\n').pop()).results;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const stat = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });
const cell = (s) => `${fmt(s.median)} (${fmt(s.min)}-${fmt(s.max)})`;

/** Bytes one decode step reads (every GEMM weight; the embedding table contributes one row) and FLOPs per token. */
function modelCost(model, params) {
  const config = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8'));
  const gemmParams = params - config.vocab_size * config.hidden_size - (2 * SHAPE.layers + 1) * SHAPE.hidden;
  return { gemmParams, flopsPerToken: 2 * gemmParams };
}

function main() {
  const date = new Date().toISOString();
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  const model = ensureRandomLlama(modelsDir);
  const params = parameterCount(model);
  const cost = modelCost(model, params);
  const bin = ensureLlamaBatchedBench();
  const ggufs = Object.fromEntries(DTYPES.map((d) => [d.gguf, ggufOf(model, d.gguf)]));
  const { bandwidth, fma, lanes } = measurePeaks();
  console.log(`date: ${date}\ncommit: ${commit}\nmachine: ${machineLine()}\nllama.cpp: ${llamaCppTag()} from node-llama-cpp ${NODE_LLAMA_CPP}`);
  console.log(`read bandwidth ${fmt(bandwidth)} GB/s, FMA peak ${fmt(fma)} GFLOP/s (${THREADS} threads, ${lanes * 32}-bit)`);
  const samples = {};
  const add = (key, B, v) => ((samples[key] ??= {})[B] ??= []).push(v);
  const loads = [loadavg()[0]];
  for (let r = 0; r < ROUNDS; r++) {
    for (const d of DTYPES) {
      const order = r % 2 === 0 ? ['llama', 'sluice'] : ['sluice', 'llama'];
      for (const who of order) {
        const rows = who === 'llama' ? runLlama(bin, ggufs[d.gguf]) : runSluice(model, d.sluice);
        for (const row of rows) {
          add(`${who} ${d.gguf}`, row.B, row.B === 1 ? row.speedTg : row.speed);
          console.log(`round ${r + 1} ${who} ${d.gguf} B=${row.B}: decode ${fmt(row.speedTg)} tok/s, total ${fmt(row.speed)} tok/s`);
        }
        loads.push(loadavg()[0]);
      }
    }
  }
  const rows = [];
  for (const d of DTYPES) {
    const decodeLimit = bandwidth * 1e9 / (cost.gemmParams * d.bytes);
    const totalLimit = fma * 1e9 / cost.flopsPerToken;
    for (const who of ['sluice', 'llama']) {
      const s = samples[`${who} ${d.gguf}`];
      const [b1, b64] = [stat(s[1]), stat(s[64])];
      rows.push([who === 'sluice' ? `Sluice ${d.sluice}` : `llama.cpp ${d.gguf}`, cell(b1), `${fmt((100 * b1.median) / decodeLimit, 0)}%`,
        cell(b64), `${fmt((100 * b64.median) / totalLimit, 0)}%`]);
    }
    const ratio = (B) => median(samples[`sluice ${d.gguf}`][B]) / median(samples[`llama ${d.gguf}`][B]);
    rows.push([`Sluice / llama.cpp ${d.gguf}`, `${fmt(ratio(1), 2)}x`, '', `${fmt(ratio(64), 2)}x`, '']);
    console.log(`${d.gguf}: batch-1 decode limit ${fmt(decodeLimit)} tok/s, batch-64 limit ${fmt(totalLimit)} tok/s; Sluice/llama.cpp ${fmt(ratio(1), 2)}x and ${fmt(ratio(64), 2)}x`);
  }
  const table = markdownTable(['system', 'batch-1 decode tok/s', 'of bandwidth limit', 'batch-64 total tok/s', 'of FMA limit'], rows);
  console.log(table);
  if (args.includes('--write')) writeDocs({ date, commit, params, cost, bandwidth, fma, lanes, loads, table });
}

function writeDocs({ date, commit, params, cost, bandwidth, fma, lanes, loads, table }) {
  const body = [
    `Measured ${date} at commit ${commit} on ${machineLine()} with \`SLUICE_BENCH_LOCK=/tmp/sluice-heavy.lock node bench/peer/peer.mjs --rounds ${ROUNDS} --kv-cache-dtype ${KV} --write\`. `
      + `Load average ${loads.map((l) => fmt(l, 2)).join(', ')} (before the first run and after each; the lock kept this session's other heavy jobs off, other tenants' load shows here).`,
    `Model: the ${fmt(params / 1e6)}M-parameter bench Llama (bench/engine/random-llama.mjs, ${fmt(cost.gemmParams / 1e6)}M in GEMM weights), `
      + 'converted to GGUF F32 and BF16 by bench/peer/gguf.mjs (q/k rows permuted to llama.cpp\'s rotary layout; norms F32 in both). '
      + `llama.cpp ${llamaCppTag()} from the source bundled in node-llama-cpp ${NODE_LLAMA_CPP} (fetched by \`npm pack\` on demand, built with GGML_NATIVE=ON), `
      + `\`llama-batched-bench -npp ${PP} -ntg ${TG} -npl ${BATCHES.join(',')} -t ${THREADS}\` (its defaults otherwise: f16 KV cache); Sluice: LLMEngine on the cpu backend, ${KV === 'bfloat16' ? 'bf16' : 'f32'} KV cache (kvCacheDtype ${KV}), threads awake 100 µs between ops (SLUICE_CPU_SPIN_US=100, set by sluice-run.mjs; the product default is 0), `
      + `greedy, eos ignored, random prompt ids, ${TG} decode steps after the prefill (bench/peer/sluice-run.mjs). ${ROUNDS} alternating rounds; medians with (min-max).`,
    `Batch-1 decode tok/s is llama.cpp's S_TG at B=1 (decode steps only); batch-64 total tok/s is 64 x (${PP} + ${TG}) tokens over the whole run (its S). `
      + `Limits: read bandwidth ${fmt(bandwidth)} GB/s (${THREADS} threads summing 1 GiB, cpuReadBandwidth) over the GEMM weight bytes per decode step; `
      + `FMA peak ${fmt(fma)} GFLOP/s (${THREADS} threads, ${lanes * 32}-bit fma loop, cpuFmaPeak) over ${fmt(cost.flopsPerToken / 1e6)} MFLOP per token (GEMMs; attention left out).`,
    table,
  ];
  upsertSection(join(root, 'docs', 'benchmarks.md'), 'Peer: llama.cpp on CPU', body.join('\n\n'));
  writeFileSync(join(root, '.cache', 'peer', 'last-run.json'), JSON.stringify({ date, commit, table }, null, 2));
  console.log('wrote docs/benchmarks.md');
}

main();
