#!/usr/bin/env node
// Decode attention's KV streaming rate next to the machine's read bandwidth, measured in the same process:
// pagedAttentionDecode at the bench Llama's head layout (12/4 heads, head dim 64) over a paged cache far larger
// than the last-level cache (shuffled block tables), so every call reads K and V from memory once.
// Each round runs in a child process per kernels folder, alternating; prints the median and range of each figure.
// Usage: node bench/kernels/attention-stream.mjs [--rounds N] [--dtypes f32,bf16] [--kernels DIR[,DIR]]
// --kernels: @sluice/cuda-kernels package folders to compare (e.g. an older commit's, built); default this
// checkout's. SLUICE_CPU_THREADS and SLUICE_CPU_ISA as for the engine.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const here = dirname(fileURLToPath(import.meta.url));
const threads = Number(process.env.SLUICE_CPU_THREADS ?? availableParallelism());
const [heads, kvHeads, D, BS] = [12, 4, 64, 16];
// A few long sequences and many short ones (a batch-64 decode step).
const shapes = [{ B: 16, ctx: 2048 }, { B: 64, ctx: 512 }];

function randomBits(n, dtype, seed) {
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296 - 0.5);
  if (dtype === 'f32') return Float32Array.from({ length: n }, next);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  return Uint16Array.from({ length: n }, () => ((f[0] = next()), u[0] >>> 16)); // bf16: the top half of an f32
}

// One round in this process: { figure: GB/s } for the read bandwidth and each shape and cache dtype it runs.
function oneRound(kernelsDir, dtypes) {
  const { cpuKernelPath, cpuReadBandwidth, getBackend } = require(kernelsDir);
  const b = getBackend('cpu');
  const out = { path: cpuKernelPath().path, 'read bandwidth': cpuReadBandwidth(threads, 2 ** 30) };
  for (const { B, ctx } of shapes) {
    for (const dtype of dtypes) {
      const blocksPer = ctx / BS;
      const numBlocks = B * blocksPer;
      const shape = [numBlocks, BS, kvHeads, D];
      const n = numBlocks * BS * kvHeads * D;
      let k;
      try {
        k = b.fromHost(randomBits(n, dtype, 1), shape, dtype);
        const v = b.fromHost(randomBits(n, dtype, 2), shape, dtype);
        const tables = b.fromHost(Int32Array.from({ length: numBlocks }, (_, i) => (i * 7919) % numBlocks), [B, blocksPer], 'i32');
        const lens = b.fromHost(new Int32Array(B).fill(ctx), [B], 'i32');
        const q = b.fromHost(randomBits(B * heads * D, 'f32', 3), [B, heads * D], 'f32');
        const o = b.empty([B, heads * D], 'f32');
        const call = () => b.pagedAttentionDecode(o, q, k, v, tables, lens, 0.125);
        call();
        let best = Infinity;
        for (let i = 0; i < 5; i++) {
          const t0 = process.hrtime.bigint();
          call();
          best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
        }
        out[`B=${B} ctx=${ctx} ${dtype} KV`] = (2 * n * (dtype === 'f32' ? 4 : 2)) / best / 1e9;
        for (const t of [k, v, tables, lens, q, o]) t.free();
      } catch (e) {
        if (k) k.free();
        out[`B=${B} ctx=${ctx} ${dtype} KV`] = `not run: ${e.message.split('\n')[0]}`;
      }
    }
  }
  return out;
}

if (args.includes('--one-round')) {
  console.log(JSON.stringify(oneRound(resolve(opt('--one-round')), opt('--dtypes', 'f32,bf16').split(','))));
} else {
  const rounds = Number(opt('--rounds', '5'));
  const dirs = opt('--kernels', join(here, '..', '..', 'libs', 'cuda-kernels')).split(',').map((d) => resolve(d));
  const samples = dirs.map(() => ({}));
  const paths = dirs.map(() => '');
  const load0 = loadavg()[0];
  for (let r = 0; r < rounds; r++) {
    dirs.forEach((dir, i) => {
      const res = JSON.parse(execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--one-round', dir, '--dtypes', opt('--dtypes', 'f32,bf16')], { encoding: 'utf8' }));
      paths[i] = res.path;
      for (const [name, x] of Object.entries(res)) if (name !== 'path') (samples[i][name] ??= []).push(x);
    });
  }
  const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  console.log(`pagedAttentionDecode KV streaming, ${threads} threads, heads ${heads}/${kvHeads}, D ${D}, block ${BS}; ` +
    `${rounds} alternating rounds; load ${load0.toFixed(1)} -> ${loadavg()[0].toFixed(1)}`);
  dirs.forEach((dir, i) => {
    console.log(`${dir} (${paths[i]} kernels)`);
    const bw = median(samples[i]['read bandwidth']);
    for (const [name, xs] of Object.entries(samples[i])) {
      if (typeof xs[0] === 'string') {
        console.log(`  ${name}: ${xs[0]}`);
        continue;
      }
      const m = median(xs);
      const share = name === 'read bandwidth' ? '' : `, ${((100 * m) / bw).toFixed(0)}% of read bandwidth`;
      console.log(`  ${name}: ${m.toFixed(1)} GB/s (range ${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)})${share}`);
    }
  });
}
