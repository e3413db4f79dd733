#!/usr/bin/env node
// Op-set benchmark: every op of @sluice/cuda-kernels at Llama-7B shapes, on the CPU (1 thread and every
// thread) and on CUDA when a GPU is visible. Each op's GB/s or GFLOP/s is printed next to the device's
// peaks measured in the same run (a large copy, a large GEMM); on CPU also next to the derived FMA peak.
// Each configuration runs in its own process because the CPU backend reads SLUICE_CPU_THREADS once.
// Usage: node bench/kernels/kernels.mjs [--quick] [--write]   (--write updates docs/benchmarks.md and docs/kernels.md)
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { machineLine, markdownTable, upsertSection } = require('@sluice/bench');
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const TARGET_GEMM_PER_CORE = 40; // GFLOP/s per core, f32 GEMM of a 4096 x 4096 weight at batch 64 (issue 3)

// --- the CPU's FMA peak ------------------------------------------------------------------------------

// Measured, not derived from a CPU family's table: one thread runs 12 independent chains of f32 FMAs
// (cpuFmaPeak in the addon) at the widest vectors the CPU runs (16 lanes with AVX-512, else 8), best of 3.
function cpuPeak() {
  const { cpuFmaPeak } = require('@sluice/cuda-kernels');
  const field = (name) => new RegExp(`^${name}\\s*:\\s*(.+)$`, 'm').exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1].trim() ?? '';
  const best = (lanes) => Math.max(...[0, 1, 2].map(() => cpuFmaPeak(lanes, 1, 0.3)[0]));
  let lanes = 16;
  let perCore;
  try {
    perCore = best(16);
  } catch {
    lanes = 8;
    perCore = best(8);
  }
  const perCore256 = lanes === 16 ? best(8) : perCore;
  const how = `measured: one thread, 12 independent chains of ${lanes * 32}-bit f32 FMAs (cpuFmaPeak), best of 3 runs of 0.3 s`
    + (lanes === 16 ? `; the same loop at 256 bits gives ${fmt(perCore256)} GFLOP/s` : '');
  return { model: field('model name'), lanes, perCore, perCore256, how };
}

// --- one configuration (child process) -------------------------------------------------------------

function randomFloats(n, seed) {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 4294967296 - 0.5;
  }
  return a;
}

// Best wall time and best process CPU time (all threads) over reps, after one warm-up run.
function measure(b, fn, reps) {
  fn();
  b.synchronize();
  let wall = Infinity;
  let cpu = Infinity;
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    fn();
    b.synchronize();
    wall = Math.min(wall, Number(process.hrtime.bigint() - t0) / 1e9);
    const c = process.cpuUsage(c0);
    cpu = Math.min(cpu, (c.user + c.system) / 1e6);
  }
  return { wall, cpu };
}

function samplingTensors(b, B, vocab) {
  const f32 = (v) => b.fromHost(new Float32Array(B).fill(v), [B], 'f32');
  const prompt = Int32Array.from({ length: B * 64 }, (_, i) => (i * 7919) % vocab);
  const offsets = Int32Array.from({ length: B + 1 }, (_, i) => i * 64);
  return {
    temperature: f32(0.8), topK: b.fromHost(new Int32Array(B).fill(50), [B], 'i32'), topP: f32(0.95), minP: f32(0.05),
    repetitionPenalty: f32(1.1), presencePenalty: f32(0.1), frequencyPenalty: f32(0.1),
    promptTokens: b.fromHost(prompt, [prompt.length], 'i32'), promptOffsets: b.fromHost(offsets, [B + 1], 'i32'),
    outputTokens: b.fromHost(prompt, [prompt.length], 'i32'), outputOffsets: b.fromHost(offsets, [B + 1], 'i32'),
    seeds: b.fromHost(BigInt64Array.from({ length: B }, (_, i) => BigInt(i + 1)), [B], 'i64'),
    steps: b.fromHost(new BigInt64Array(B), [B], 'i64'),
  };
}

function child(device) {
  const { getBackend } = require('@sluice/cuda-kernels');
  const b = getBackend(device);
  const reps = quick ? 2 : 5;
  const f32 = (n, seed, shape) => b.fromHost(randomFloats(n, seed), shape, 'f32');
  const results = [];
  // kind 'flop': rate = flops / s; kind 'byte': rate = bytes / s (reads + writes).
  const run = (name, kind, amount, fn, r = reps) => results.push({ name, kind, amount, ...measure(b, fn, r) });

  // Llama-7B shapes: hidden 4096, 32 query / 8 KV heads of 128, MLP 11008, vocab 32000.
  const [H, nH, nKv, D, F, V] = [4096, 32, 8, 128, 11008, 32000];
  // Peak references, a large copy and a large GEMM, measured before and after the ops; the better of the
  // two is kept so a burst of load from other jobs on a shared machine does not lower the reference.
  const measurePeaks = () => {
    const peaks = {};
    if (device === 'cpu') {
      const src = Buffer.alloc(256 << 20, 1);
      const dst = Buffer.alloc(256 << 20);
      const t = measure(b, () => src.copy(dst), 2 * reps);
      peaks.copy = { name: 'memcpy 256 MiB (one thread)', gbs: (2 * src.length) / t.wall / 1e9 };
    } else {
      const blocks = 64;
      const cache = b.empty([2 * blocks, 4 << 20], 'f32'); // 16 MiB blocks: one big device-to-device copy each
      const pairs = b.fromHost(Int32Array.from({ length: 2 * blocks }, (_, i) => (i % 2 ? blocks + (i >> 1) : i >> 1)), [blocks, 2], 'i32');
      const t = measure(b, () => b.copyBlocks([cache], pairs), reps);
      peaks.copy = { name: 'copyBlocks of 64 x 16 MiB blocks (device to device)', gbs: (2 * blocks * (16 << 20)) / t.wall / 1e9 };
      cache.free();
      pairs.free();
    }
    const [M, N, K] = device === 'cpu' ? [quick ? 256 : 512, H, H] : [8192, 8192, 8192];
    peaks.gemm = [];
    for (const dtype of device === 'cpu' ? ['f32'] : ['f32', 'bf16']) {
      const a = b.empty([M, K], dtype);
      const w = b.empty([N, K], dtype);
      const o = b.empty([M, N], dtype);
      if (dtype === 'f32') {
        b.copyFromHost(a, randomFloats(M * K, 1));
        b.copyFromHost(w, randomFloats(N * K, 2));
      } else {
        // bf16 bit patterns of small positive values (0.0078 to 0.0156): finite, like real activations.
        b.copyFromHost(a, Uint16Array.from({ length: M * K }, (_, i) => 0x3c00 + (i % 128)));
        b.copyFromHost(w, Uint16Array.from({ length: N * K }, (_, i) => 0x3c00 + ((i * 7) % 128)));
      }
      const t = measure(b, () => b.gemm(o, a, w), device === 'cpu' ? 2 : reps);
      peaks.gemm.push({ name: `gemm ${dtype} ${M}x${N}x${K}`, gflops: (2 * M * N * K) / t.wall / 1e9 });
      for (const x of [a, w, o]) x.free();
    }
    return peaks;
  };
  const before = measurePeaks();

  for (const M of [1, 64, 512]) {
    const a = f32(M * H, 3, [M, H]);
    const w = f32(H * H, 4, [H, H]);
    const o = b.empty([M, H], 'f32');
    run(`gemm f32 ${M}x${H}x${H}`, 'flop', 2 * M * H * H, () => b.gemm(o, a, w), M === 512 ? 2 : reps);
    results[results.length - 1].weightBytes = H * H * 4;
    for (const x of [a, w, o]) x.free();
  }

  const T = 8192; // elementwise working sets of 32-128 MiB: past the L3, so they compare with the DRAM copy
  {
    const x = f32(T * H, 5, [T, H]);
    const res = f32(T * H, 6, [T, H]);
    const g = f32(H, 7, [H]);
    const o = b.empty([T, H], 'f32');
    run(`rmsNorm [${T}, ${H}]`, 'byte', 2 * T * H * 4, () => b.rmsNorm(o, x, g, 1e-5));
    run(`fusedAddRmsNorm [${T}, ${H}]`, 'byte', 4 * T * H * 4, () => b.fusedAddRmsNorm(x, res, g, 1e-5));
    const table = f32(8192 * H, 8, [8192, H]);
    const ids = b.fromHost(Int32Array.from({ length: T }, (_, i) => (i * 7919) % 8192), [T], 'i32');
    run(`embedding ${T} rows of [8192, ${H}]`, 'byte', 2 * T * H * 4, () => b.embedding(o, table, ids));
    for (const t of [x, res, g, o, table, ids]) t.free();
  }
  {
    const Tm = 512;
    const x = f32(Tm * 2 * F, 9, [Tm, 2 * F]);
    const o = b.empty([Tm, F], 'f32');
    run(`siluAndMul [${Tm}, ${2 * F}]`, 'byte', 3 * Tm * F * 4, () => b.siluAndMul(o, x));
    x.free();
    o.free();
  }
  {
    const q = f32(T * nH * D, 10, [T, nH * D]);
    const k = f32(T * nKv * D, 11, [T, nKv * D]);
    const cosSin = f32(T * D, 12, [T, D]);
    const pos = b.fromHost(Int32Array.from({ length: T }, (_, i) => i), [T], 'i32');
    run(`rotaryEmbedding ${T} tokens, ${nH}/${nKv} heads`, 'byte', 2 * T * (nH + nKv) * D * 4, () => b.rotaryEmbedding(pos, q, k, D, cosSin));
    for (const t of [q, k, cosSin, pos]) t.free();
  }

  const BS = 16;
  const B = 16;
  const ctx = 1024;
  const blocksPer = ctx / BS;
  const numBlocks = B * blocksPer;
  const cacheShape = [numBlocks, BS, nKv, D];
  const kCache = f32(numBlocks * BS * nKv * D, 13, cacheShape);
  const vCache = f32(numBlocks * BS * nKv * D, 14, cacheShape);
  const perm = Array.from({ length: numBlocks }, (_, i) => (i * 7919) % numBlocks);
  const tables = b.fromHost(Int32Array.from(perm), [B, blocksPer], 'i32');
  {
    const kv = f32(T * nKv * D, 15, [T, nKv * D]);
    const slots = b.fromHost(Int32Array.from({ length: T }, (_, i) => perm[i >> 4] * BS + (i % BS)), [T], 'i32');
    run(`reshapeAndCache ${T} tokens`, 'byte', 4 * T * nKv * D * 4, () => b.reshapeAndCache(kv, kv, kCache, vCache, slots));
    kv.free();
    slots.free();
  }
  {
    const lens = b.fromHost(new Int32Array(B).fill(ctx), [B], 'i32');
    const q = f32(B * nH * D, 16, [B, nH * D]);
    const o = b.empty([B, nH * D], 'f32');
    run(`pagedAttentionDecode B=${B} ctx=${ctx}`, 'byte', 2 * B * ctx * nKv * D * 4, () => b.pagedAttentionDecode(o, q, kCache, vCache, tables, lens, 0.088));
    const seqs = 2;
    const qLen = 512;
    const pq = f32(seqs * qLen * nH * D, 17, [seqs * qLen, nH * D]);
    const po = b.empty([seqs * qLen, nH * D], 'f32');
    const cu = b.fromHost(Int32Array.from([0, qLen, 2 * qLen]), [3], 'i32');
    const plens = b.fromHost(new Int32Array(seqs).fill(qLen), [seqs], 'i32');
    run(`prefillAttention ${seqs}x${qLen} causal`, 'flop', seqs * nH * 4 * D * ((qLen * (qLen + 1)) / 2),
      () => b.prefillAttention(po, pq, kCache, vCache, cu, b.narrow(tables, 0, seqs), plens, 0.088), quick ? 1 : 3);
    for (const t of [lens, q, o, pq, po, cu, plens]) t.free();
  }
  {
    const P = 256;
    const blockBytes = BS * nKv * D * 4;
    const pairs = b.fromHost(Int32Array.from({ length: 2 * P }, (_, i) => (i % 2 ? numBlocks - 1 - (i >> 1) : i >> 1)), [P, 2], 'i32');
    run(`copyBlocks ${P} blocks x 2 caches`, 'byte', 2 * 2 * P * blockBytes, () => b.copyBlocks([kCache, vCache], pairs));
    const pinned = b.emptyPinned([P, BS, nKv, D], 'f32');
    const swapPairs = b.fromHost(Int32Array.from({ length: 2 * P }, (_, i) => (i % 2 ? i >> 1 : perm[i >> 1])), [P, 2], 'i32');
    run(`swapBlocks ${P} blocks to pinned host`, 'byte', 2 * P * blockBytes, () => b.swapBlocks(kCache, pinned, swapPairs));
  }
  {
    const Bs = 64;
    const logits = f32(Bs * V, 18, [Bs, V]);
    const out = b.empty([Bs], 'i32');
    const params = samplingTensors(b, Bs, V);
    run(`sample ${Bs} x ${V} (top-k/p, min-p, penalties)`, 'byte', Bs * V * 4, () => b.sample(out, logits, params));
    run(`argmax ${Bs} x ${V}`, 'byte', Bs * V * 4, () => b.argmax(out, logits));
  }
  const after = measurePeaks();
  const peaks = {
    copy: before.copy.gbs >= after.copy.gbs ? before.copy : after.copy,
    gemm: before.gemm.map((g, i) => (g.gflops >= after.gemm[i].gflops ? g : after.gemm[i])),
  };
  console.log(JSON.stringify({ device, threads: Number(process.env.SLUICE_CPU_THREADS ?? 0), peaks, results }));
}

// --- parent: run each configuration, print, optionally write the docs --------------------------------

function runChild(device, threads) {
  const env = { ...process.env };
  if (threads) env.SLUICE_CPU_THREADS = String(threads);
  const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', device, ...(quick ? ['--quick'] : [])], {
    env, encoding: 'utf8', maxBuffer: 16 << 20,
  });
  return JSON.parse(out.trim().split('\n').pop());
}

const fmt = (x, d = 1) => x.toFixed(d);

function gemmPeaks(run) {
  return run.peaks.gemm.map((g) => (run.device === 'cpu'
    ? `${g.name} ${fmt(g.gflops)} GFLOP/s`
    : `${g.name} ${fmt(g.gflops / 1e3)} TFLOP/s`)).join(', ');
}

function report(run, cpu) {
  const lines = [];
  const label = run.device === 'cpu' ? `cpu, ${run.threads} thread(s)` : 'cuda';
  const gemmPeak = run.peaks.gemm[run.peaks.gemm.length - 1];
  lines.push(`== ${label}: large copy ${fmt(run.peaks.copy.gbs)} GB/s (${run.peaks.copy.name}); ${gemmPeaks(run)}`);
  const rows = [];
  for (const r of run.results) {
    const rate = r.amount / r.wall / 1e9;
    let vsPeak;
    let perCore = '';
    if (r.kind === 'flop') {
      vsPeak = `${fmt((100 * rate) / gemmPeak.gflops, 0)}% of large GEMM`;
      if (cpu) {
        const core = r.amount / r.cpu / 1e9;
        perCore = `${fmt(core)} GFLOP/s per core-second of CPU time (${fmt((100 * core) / cpu.perCore, 0)}% of FMA peak)`;
      }
    } else {
      vsPeak = `${fmt((100 * rate) / run.peaks.copy.gbs, 0)}% of copy`;
    }
    // GPUs report compute in TFLOP/s, CPUs in GFLOP/s.
    const [shown, unit] = r.kind === 'byte' ? [rate, 'GB/s'] : cpu ? [rate, 'GFLOP/s'] : [rate / 1e3, 'TFLOP/s'];
    rows.push({ name: r.name, ms: r.wall * 1e3, rate: shown, unit, vsPeak, perCore, r });
    lines.push(`${r.name}: ${fmt(r.wall * 1e3, 2)} ms, ${fmt(shown)} ${unit} (${vsPeak})${perCore ? `; ${perCore}` : ''}`
      + (r.weightBytes ? `; weights streamed at ${fmt(r.weightBytes / r.wall / 1e9)} GB/s` : ''));
  }
  console.log(lines.join('\n'));
  return { label, rows, run };
}

function main() {
  const date = new Date().toISOString();
  const load0 = loadavg()[0];
  const cpu = cpuPeak();
  const all = availableParallelism();
  console.log(`date: ${date}\nmachine: ${machineLine()}`);
  console.log(`CPU FMA peak per core: ${fmt(cpu.perCore)} GFLOP/s (${cpu.how})`);
  console.log(`load average at start: ${fmt(load0, 2)} on ${all} logical cores`);
  const reports = [];
  for (const threads of [...new Set([1, all])]) reports.push(report(runChild('cpu', threads), cpu));
  const { cudaAvailable } = require('@sluice/cuda-kernels');
  if (cudaAvailable()) reports.push(report(runChild('cuda'), undefined));
  const load1 = loadavg()[0];
  console.log(`load average at end: ${fmt(load1, 2)}`);

  const single = reports[0].rows.find((r) => r.name === 'gemm f32 64x4096x4096');
  const perCore = single.r.amount / single.r.cpu / 1e9;
  const wallPerCore = single.rate;
  const verdict = perCore >= TARGET_GEMM_PER_CORE ? 'meets' : 'MISSES';
  console.log(`target: f32 GEMM 64x4096x4096 per core ${fmt(perCore)} GFLOP/s (CPU time), ${fmt(wallPerCore)} GFLOP/s (wall, 1 thread); `
    + `${verdict} ${TARGET_GEMM_PER_CORE} GFLOP/s`);
  if (args.includes('--write')) writeDocs({ date, cpu, load0, load1, reports, perCore, wallPerCore, verdict });
}

function writeDocs({ date, cpu, load0, load1, reports, perCore, wallPerCore, verdict }) {
  const method = [
    `Measured ${date} on ${machineLine()} with \`npm run bench:kernels -w @sluice/bench\` `
      + `(bench/kernels/kernels.mjs${quick ? ' --quick' : ''}). Each op runs once to warm up, then the best of`
      + ` ${quick ? 2 : 5} runs (2-3 for the slowest) is kept; bytes count reads plus writes. The peaks each op is`
      + ' compared with (a 256 MiB memcpy on one thread, the 512-row GEMM) are measured before and after the ops and'
      + ' the better kept; memory-bound ops can exceed the one-thread memcpy.',
    `Load: the 2 logical cores were shared with other jobs (load average ${fmt(load0, 2)} at start, ${fmt(load1, 2)} at end), so`
      + ' wall-clock rates are lower bounds and the multi-thread rows mostly show contention. Per-core GEMM rates divide the'
      + ' FLOPs by the process CPU time, which time-slicing does not inflate.',
    `FMA peak per core: **${fmt(cpu.perCore)} GFLOP/s** (${cpu.how}). Every "% of FMA peak" below is relative to it;`
      + ' records before 2026-12-05 derived the peak from a table of CPU families instead.',
    `Target (issue 3): f32 GEMM of a 4096 x 4096 weight at batch 64 >= ${TARGET_GEMM_PER_CORE} GFLOP/s per core: `
      + `**${fmt(perCore)} GFLOP/s per core** (CPU time; ${fmt(wallPerCore)} wall-clock at 1 thread), ${verdict} the target.`,
  ];
  const tables = (device) => reports.filter((r) => r.run.device === device).map(({ label, rows, run }) => {
    const peakLine = `**${label}**: large copy ${fmt(run.peaks.copy.gbs)} GB/s (${run.peaks.copy.name}); `
      + `${gemmPeaks(run)} (the peaks below are relative to these).`;
    const table = markdownTable(['op', 'ms', 'rate', 'vs measured peak', 'per core (CPU time)'],
      rows.map((r) => [r.name, fmt(r.ms, 2), `${fmt(r.rate)} ${r.unit}`, r.vsPeak, r.perCore || '-']));
    return `${peakLine}\n\n${table}`;
  });
  const cpuBody = [...method, ...tables('cpu')].join('\n\n');
  upsertSection(join(root, 'docs', 'benchmarks.md'), 'Kernels: op set on CPU', `${cpuBody}\n\nDetails and the CUDA record: [kernels.md](kernels.md).`);
  upsertSection(join(root, 'docs', 'kernels.md'), 'Measured on CPU', cpuBody);
  const cudaTables = tables('cuda');
  if (cudaTables.length > 0) {
    const cudaBody = [`Measured ${date} on ${gpuName()} (host: ${machineLine()}) with \`npm run bench:kernels -w @sluice/bench\`; `
      + 'each op after one warm-up, best of the runs, synchronised; bytes count reads plus writes.', ...cudaTables].join('\n\n');
    upsertSection(join(root, 'docs', 'benchmarks.md'), 'Kernels: op set on CUDA', cudaBody);
    upsertSection(join(root, 'docs', 'kernels.md'), 'Measured on CUDA', cudaBody);
  }
  console.log('wrote docs/benchmarks.md and docs/kernels.md');
}

// The GPU's name from nvidia-smi, which ships with the driver.
function gpuName() {
  try {
    return execFileSync('nvidia-smi', ['--query-gpu=name,driver_version', '--format=csv,noheader'], { encoding: 'utf8' }).trim();
  } catch {
    return 'an unnamed GPU (nvidia-smi not found)';
  }
}

const at = args.indexOf('--child');
if (at >= 0) child(args[at + 1]);
else main();
