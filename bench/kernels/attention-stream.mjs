#!/usr/bin/env node
// Decode attention's KV streaming rate next to the machine's read bandwidth, measured in the same process:
// pagedAttentionDecode at the bench Llama's head layout (12/4 heads, head dim 64) over a paged cache far larger
// than the last-level cache (shuffled block tables), so every step reads K and V from memory once.
// Rounds alternate read bandwidth and each cache dtype; prints the median and range of each.
// Usage: node bench/kernels/attention-stream.mjs [--rounds N] [--dtypes f32,bf16]   (SLUICE_CPU_THREADS as for the engine)
import { createRequire } from 'node:module';
import { availableParallelism, loadavg } from 'node:os';

const require = createRequire(import.meta.url);
const { cpuKernelPath, cpuReadBandwidth, getBackend } = require('@sluice/cuda-kernels');

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const rounds = Number(opt('--rounds', '5'));
const dtypes = opt('--dtypes', 'f32,bf16').split(',');
const threads = Number(process.env.SLUICE_CPU_THREADS ?? availableParallelism());
const [heads, kvHeads, D, BS] = [12, 4, 64, 16];
// Two shapes: a few long sequences and many short ones (the batch-64 decode step).
const shapes = [{ B: 16, ctx: 2048 }, { B: 64, ctx: 512 }];

const b = getBackend('cpu');

function randomBits(n, dtype, seed) {
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296 - 0.5);
  if (dtype === 'f32') return Float32Array.from({ length: n }, next);
  // bf16: the top half of an f32
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  return Uint16Array.from({ length: n }, () => ((f[0] = next()), u[0] >>> 16));
}

function setup({ B, ctx }, dtype) {
  const blocksPer = ctx / BS;
  const numBlocks = B * blocksPer;
  const shape = [numBlocks, BS, kvHeads, D];
  const n = numBlocks * BS * kvHeads * D;
  const perm = Array.from({ length: numBlocks }, (_, i) => (i * 7919) % numBlocks);
  const t = {
    k: b.fromHost(randomBits(n, dtype, 1), shape, dtype),
    v: b.fromHost(randomBits(n, dtype, 2), shape, dtype),
    tables: b.fromHost(Int32Array.from(perm), [B, blocksPer], 'i32'),
    lens: b.fromHost(new Int32Array(B).fill(ctx), [B], 'i32'),
    q: b.fromHost(randomBits(B * heads * D, 'f32', 3), [B, heads * D], 'f32'),
    out: b.empty([B, heads * D], 'f32'),
  };
  const bytes = 2 * n * (dtype === 'f32' ? 4 : 2);
  return { t, bytes };
}

// GB/s of the best of 5 calls (after a warm-up call).
function attentionGBs({ t, bytes }) {
  const call = () => b.pagedAttentionDecode(t.out, t.q, t.k, t.v, t.tables, t.lens, 0.125);
  call();
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t0 = process.hrtime.bigint();
    call();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return bytes / best / 1e9;
}

const cases = [];
for (const shape of shapes) {
  for (const dtype of dtypes) {
    try {
      cases.push({ name: `B=${shape.B} ctx=${shape.ctx} ${dtype} KV`, run: setup(shape, dtype) });
    } catch (e) {
      console.log(`skipped ${dtype} KV: ${e.message}`);
      break;
    }
  }
}
const samples = { 'read bandwidth': [] };
for (const c of cases) samples[c.name] = [];
const load0 = loadavg()[0];
for (let r = 0; r < rounds; r++) {
  samples['read bandwidth'].push(cpuReadBandwidth(threads, 2 ** 30));
  for (const c of cases) samples[c.name].push(attentionGBs(c.run));
}
const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const bw = median(samples['read bandwidth']);
console.log(`pagedAttentionDecode KV streaming, ${threads} threads, ${cpuKernelPath().path} kernels, heads ${heads}/${kvHeads}, D ${D}, ` +
  `block ${BS}; ${rounds} alternating rounds; load ${load0.toFixed(1)} -> ${loadavg()[0].toFixed(1)}`);
for (const [name, xs] of Object.entries(samples)) {
  const m = median(xs);
  const share = name === 'read bandwidth' ? '' : `, ${((100 * m) / bw).toFixed(0)}% of read bandwidth`;
  console.log(`  ${name}: ${m.toFixed(1)} GB/s (range ${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)})${share}`);
}
