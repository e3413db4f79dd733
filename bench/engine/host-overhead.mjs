#!/usr/bin/env node
// Host overhead of one LLMEngine decode step, kernels taken out: every compute op of the CPU backend singleton
// the engine uses is replaced by a no-op that only counts its calls (memory, events and graphs stay real), so
// what a step still costs is the engine's own work: scheduling, staging, uploads, reads, output processing.
// Per step it also counts host->device bytes, device->host reads, tensor and view objects, and op calls.
// Each (batch, context) run is a child process; runs alternate across configurations, --reps rounds.
// Usage: node bench/engine/host-overhead.mjs [--label NAME] [--write] [--docs PATH] [--quick] [--reps N]
//          [--steps N] [--batches 64,256,512] [--contexts 1024,4096] [--keep name,name]
// (build first: npm run setup && npx nx run-many -t build). --keep names more backend methods to leave real.
import { execFileSync, fork } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureRandomLlama } from './random-llama.mjs';
import { rng } from './rng.mjs';

const require = createRequire(import.meta.url);
const { LLMEngine } = require('@sluice/engine');
const { getBackend } = require('@sluice/cuda-kernels');
const { machineLine, markdownTable, summarize, upsertSection } = require('@sluice/bench');

const self = fileURLToPath(import.meta.url);
const root = join(dirname(self), '..', '..');
const modelsDir = process.env.SLUICE_MODELS_DIR ?? join(root, '.cache', 'models');
const TITLE = 'Engine host overhead per decode step';
// Llama-3.2-1B's depth and max_position_embeddings (which sizes the old engine's block tables); widths are tiny
// because no op does math, and the tiny model's tokenizer sets the 902-token vocabulary.
const MODEL = { name: 'bench-llama-host', shape: { hidden: 16, intermediate: 32, layers: 16, heads: 4, kvHeads: 1 } };
const MAX_POSITIONS = 131072;
const MAX_BATCHED_TOKENS = 32768; // prefill in few steps, so contexts grow little before the timed steps
const WARM_STEPS = 8;
const BLOCK = 16; // the engine's default block size, used to size numBlocks
// Backend methods that stay real: memory, host<->device copies, views, loading, sync, events and graphs.
const KEEP = [
  'empty', 'emptyPinned', 'fromHost', 'copyFromHost', 'toHost', 'view', 'narrow', 'loadSafetensors',
  'loadSafetensorsEntries', 'synchronize', 'memoryStats', 'createEvent', 'recordEvent', 'waitEvent', 'elapsedMs',
  'destroyEvent', 'beginCapture', 'endCapture', 'replay', 'destroyGraph',
];
const HOST_ARRAY = { f32: Float32Array, f16: Uint16Array, bf16: Uint16Array, i32: Int32Array, i64: BigInt64Array, u8: Uint8Array };

function option(args, name, fallback) {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  if (i + 1 >= args.length || args[i + 1].startsWith('--')) throw new Error(`${name} needs a value`);
  return args[i + 1];
}

function intList(text, name) {
  const list = text.split(',').map(Number);
  if (list.some((x) => !Number.isSafeInteger(x) || x < 1)) throw new Error(`${name} must be positive integers, got ${text}`);
  return list;
}

function parseArgs(args) {
  const quick = args.includes('--quick');
  const o = {
    quick, write: args.includes('--write'),
    label: option(args, '--label', undefined),
    docs: option(args, '--docs', join(root, 'docs', 'benchmarks.md')),
    reps: intList(option(args, '--reps', quick ? '1' : '5'), '--reps')[0],
    steps: intList(option(args, '--steps', quick ? '16' : '32'), '--steps')[0],
    batches: intList(option(args, '--batches', '64,256,512'), '--batches'),
    contexts: intList(option(args, '--contexts', '1024,4096'), '--contexts'),
    keep: [...KEEP, ...option(args, '--keep', '').split(',').filter(Boolean)],
  };
  if (Math.max(...o.contexts) + 1024 > MAX_POSITIONS) throw new Error(`--contexts must stay below ${MAX_POSITIONS - 1024}`);
  return o;
}

// ---- child: one engine, one (batch, context) configuration ----

function methodNames(obj) {
  const names = new Set();
  for (let o = obj; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const n of Object.getOwnPropertyNames(o)) {
      if (n !== 'constructor' && typeof Object.getOwnPropertyDescriptor(o, n).value === 'function') names.add(n);
    }
  }
  return [...names].sort();
}

/**
 * Shadows the backend's methods with own properties: ops not in `keep` become counting no-ops; the kept memory
 * methods stay real but count bytes, reads and objects. New tensors are zero-filled (time excluded from the step)
 * so the ids the no-op sampler "returns" are token 0, not leftover bytes.
 */
function installShim(b, keep, c) {
  const real = Object.fromEntries(methodNames(b).map((n) => [n, b[n].bind(b)]));
  const replaced = Object.keys(real).filter((n) => !keep.includes(n));
  for (const n of replaced) {
    c.calls[n] = 0;
    shadow(b, n, () => { c.calls[n]++; });
  }
  let zeros = new ArrayBuffer(0);
  const zeroFill = (t) => {
    const t0 = process.hrtime.bigint();
    const Host = HOST_ARRAY[t.dtype];
    if (Host && t.numel > 0) {
      if (zeros.byteLength < t.numel * Host.BYTES_PER_ELEMENT) zeros = new ArrayBuffer(t.numel * Host.BYTES_PER_ELEMENT);
      real.copyFromHost(t, new Host(zeros, 0, t.numel));
    }
    c.excludedNs += process.hrtime.bigint() - t0;
    return t;
  };
  const created = (t) => { c.tensors++; return t; };
  shadow(b, 'empty', (...a) => zeroFill(created(real.empty(...a))));
  if (real.emptyPinned) shadow(b, 'emptyPinned', (...a) => zeroFill(created(real.emptyPinned(...a))));
  shadow(b, 'fromHost', (data, ...a) => { c.h2dBytes += data.byteLength; return created(real.fromHost(data, ...a)); });
  shadow(b, 'copyFromHost', (dst, src, ...a) => { c.h2dBytes += src.byteLength; return real.copyFromHost(dst, src, ...a); });
  shadow(b, 'toHost', (...a) => { const h = real.toHost(...a); c.d2hReads++; c.d2hBytes += h.byteLength; return h; });
  shadow(b, 'view', (...a) => { c.views++; return real.view(...a); });
  shadow(b, 'narrow', (...a) => { c.views++; return real.narrow(...a); });
  return replaced;
}

// An own property shadows the prototype's method (the addon's prototype methods are read-only, so `=` cannot).
function shadow(obj, name, fn) {
  Object.defineProperty(obj, name, { value: fn, writable: true, configurable: true, enumerable: false });
}

function newCounters() {
  return { calls: {}, h2dBytes: 0, d2hReads: 0, d2hBytes: 0, tensors: 0, views: 0, excludedNs: 0n };
}

function snapshot(c) {
  const ops = Object.values(c.calls).reduce((s, x) => s + x, 0);
  return { ops, h2dBytes: c.h2dBytes, d2hReads: c.d2hReads, d2hBytes: c.d2hBytes, tensors: c.tensors, views: c.views, excludedNs: c.excludedNs };
}

async function stepOnce(engine) {
  const r = engine.step();
  return r && typeof r.then === 'function' ? await r : r;
}

// One timed step: wall and CPU time less the shim's zero-fills, and the counters' increments.
async function timedStep(engine, c) {
  const before = snapshot(c);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const outs = await stepOnce(engine);
  const wallNs = process.hrtime.bigint() - t0;
  const cpu = process.cpuUsage(cpu0);
  const after = snapshot(c);
  const excludedMs = Number(after.excludedNs - before.excludedNs) / 1e6;
  const d = Object.fromEntries(Object.keys(before).filter((k) => k !== 'excludedNs').map((k) => [k, after[k] - before[k]]));
  return { outs, hostMs: Number(wallNs) / 1e6 - excludedMs, cpuMs: (cpu.user + cpu.system) / 1e3 - excludedMs, ...d };
}

function prompts(n, len, tokenBound) {
  const next = rng(0x5eed + len);
  return Array.from({ length: n }, () => Array.from({ length: len }, () => Math.floor(next() * tokenBound)));
}

async function addRequests(engine, spec, maxTokens) {
  const config = JSON.parse(readFileSync(join(spec.model, 'config.json'), 'utf8'));
  const list = prompts(spec.batch, spec.context, Math.min(config.bos_token_id, config.eos_token_id));
  for (const [i, ids] of list.entries()) {
    await engine.addRequest(`s${i}`, { promptTokenIds: ids }, { temperature: 0, ignoreEos: true, maxTokens });
  }
}

// Steps until every request has produced its first token (chunked prefill; early ones decode meanwhile).
async function prefill(engine, spec, bound) {
  const started = new Set();
  let steps = 0;
  while (started.size < spec.batch) {
    if (++steps > 2 * bound + 8) throw new Error(`prefill did not finish in ${steps} steps (${started.size}/${spec.batch} started)`);
    for (const o of await stepOnce(engine)) started.add(o.requestId);
  }
  return steps;
}

async function runChild(spec) {
  const c = newCounters();
  const replaced = installShim(getBackend('cpu'), spec.keep, c);
  const prefillBound = Math.ceil((spec.batch * spec.context) / MAX_BATCHED_TOKENS) + 1;
  const maxTokens = prefillBound + WARM_STEPS + spec.steps + 8;
  const numBlocks = spec.batch * (Math.ceil((spec.context + maxTokens) / BLOCK) + 1);
  const engine = await LLMEngine.create({
    model: spec.model, device: 'cpu', maxNumSeqs: spec.batch, maxNumBatchedTokens: MAX_BATCHED_TOKENS, numBlocks,
  });
  try {
    await addRequests(engine, spec, maxTokens);
    const prefillSteps = await prefill(engine, spec, prefillBound);
    for (let i = 0; i < WARM_STEPS; i++) await stepOnce(engine);
    const s0 = await engine.stats();
    const calls0 = { ...c.calls };
    const steps = [];
    let lengths = [];
    for (let i = 0; i < spec.steps; i++) {
      const { outs, ...m } = await timedStep(engine, c);
      checkStep(outs, m, spec, i);
      lengths = outs.map((o) => o.usage?.completionTokens ?? o.outputs?.[0]?.tokenIds?.length ?? NaN);
      steps.push(m);
    }
    const s1 = await engine.stats();
    checkStats(s0, s1, spec);
    const contexts = lengths.map((n) => spec.context + n);
    const calls = Object.fromEntries(Object.entries(c.calls).map(([n, x]) => [n, x - calls0[n]]));
    return { ...spec, replaced, calls, prefillSteps, steps, contextMin: Math.min(...contexts), contextMax: Math.max(...contexts) };
  } finally {
    await engine.close();
  }
}

function checkStep(outs, m, spec, i) {
  if (outs.length !== spec.batch) throw new Error(`timed step ${i} returned ${outs.length} outputs, expected ${spec.batch} running sequences`);
  if (outs.some((o) => o.finished)) throw new Error(`timed step ${i}: a request finished; maxTokens is too small`);
  if (m.ops === 0) throw new Error('no op was called in a step: the engine does not use the backend object this bench replaced');
}

// A pure decode batch: one token per sequence per timed step and no preemption (skipped for fields an engine lacks).
function checkStats(s0, s1, spec) {
  const made = s1.generationTokensTotal - s0.generationTokensTotal;
  if (Number.isFinite(made) && made !== spec.batch * spec.steps) {
    throw new Error(`${made} tokens generated in ${spec.steps} timed steps, expected ${spec.batch * spec.steps}`);
  }
  if (Number.isFinite(s1.numPreemptions) && s1.numPreemptions > 0) throw new Error(`${s1.numPreemptions} preemptions; numBlocks is too small`);
}

// ---- parent: runs, summary, docs ----

function runInChild(spec) {
  return new Promise((resolve, reject) => {
    const child = fork(self, ['--child', JSON.stringify(spec)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result;
    child.on('message', (m) => { result = m; });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (result?.error) reject(new Error(`batch ${spec.batch}, context ${spec.context}: ${result.error}`));
      else if (code !== 0 || !result) reject(new Error(`batch ${spec.batch}, context ${spec.context}: child exited with ${code}`));
      else resolve(result);
    });
  });
}

function summarizeRuns(runs) {
  const all = runs.flatMap((r) => r.steps);
  const n = all.length;
  const mean = (k) => all.reduce((s, x) => s + x[k], 0) / n;
  const wall = summarize(all.map((s) => s.hostMs));
  const runMedians = runs.map((r) => summarize(r.steps.map((s) => s.hostMs)).median);
  return {
    batch: runs[0].batch, context: runs[0].context, runs: runs.length, steps: n, wall, runMedians,
    cpu: mean('cpuMs'),
    h2dKiB: mean('h2dBytes') / 1024, d2hReads: mean('d2hReads'), d2hKiB: mean('d2hBytes') / 1024,
    tensors: mean('tensors'), views: mean('views'), ops: mean('ops'),
    contextMin: Math.min(...runs.map((r) => r.contextMin)), contextMax: Math.max(...runs.map((r) => r.contextMax)),
    calls: runs[0].calls, replaced: runs[0].replaced,
  };
}

function table(summaries) {
  const f = (x, d = 1) => x.toFixed(d);
  return markdownTable(
    ['sequences', 'context (tokens)', 'host ms/step, median', 'mean', 'p10–p90', 'run medians', 'CPU ms/step, mean', 'H2D KiB/step',
      'D2H reads/step (KiB)', 'tensors + views/step', 'op calls/step'],
    summaries.map((s) => [
      s.batch, `${s.contextMin}–${s.contextMax}`, f(s.wall.median, 2), f(s.wall.mean, 2), `${f(s.wall.p10, 2)}–${f(s.wall.p90, 2)}`,
      `${f(Math.min(...s.runMedians), 2)}–${f(Math.max(...s.runMedians), 2)}`, f(s.cpu, 2), f(s.h2dKiB),
      `${f(s.d2hReads)} (${f(s.d2hKiB, 2)})`, `${f(s.tensors)} + ${f(s.views)}`, f(s.ops),
    ]),
  );
}

// Op calls per step by name, for one configuration's timed steps (all its runs call the same ops).
function opBreakdown(s) {
  const perRun = s.steps / s.runs;
  return Object.entries(s.calls).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1])
    .map(([name, n]) => `${name} ${(n / perRun).toFixed(1)}`).join(', ');
}

function gitDescribe() {
  const git = (...a) => execFileSync('git', ['-C', root, ...a], { encoding: 'utf8' }).trim();
  try {
    const dirty = git('status', '--porcelain', '--', 'libs') !== '';
    return `${git('rev-parse', '--short', 'HEAD')}${dirty ? ' with uncommitted changes in libs/' : ''}`;
  } catch {
    return 'unknown commit (not a git checkout)';
  }
}

function intro() {
  const { shape } = MODEL;
  return [
    'Host time of one `LLMEngine.step()` in steady decode, with the kernels taken out: `bench/engine/host-overhead.mjs` '
      + "replaces, on the CPU backend object the engine uses (`getBackend('cpu')`, one per thread), every compute op with a "
      + 'no-op that only counts its calls (any backend method not in its keep-list, so ops a newer engine adds are covered '
      + 'too). Memory methods stay real and are counted: `copyFromHost`/`fromHost` bytes (host→device), `toHost` calls and '
      + 'bytes (device→host reads), `empty`/`emptyPinned`/`fromHost` tensors and `view`/`narrow` views created. New tensors '
      + 'are zero-filled so the no-op sampler yields token 0; that fill is timed and subtracted. What remains is the '
      + "engine's own work per step: scheduling, block tables and staging, uploads, reads, sampling bookkeeping, "
      + 'detokenizing and building outputs.',
    `Workload: a random Llama with Llama-3.2-1B's depth (${shape.layers} layers) and max_position_embeddings `
      + `(${MAX_POSITIONS.toLocaleString('en-US')}, so maxModelLen keeps its default of that) but tiny widths (hidden ${shape.hidden}, `
      + `${shape.heads} query / ${shape.kvHeads} KV heads, the tiny tokenizer's 902-token vocabulary; .cache/models/${MODEL.name}), `
      + `N sequences of seeded random token-id prompts, greedy, \`ignoreEos\`; maxNumSeqs N, maxNumBatchedTokens `
      + `${MAX_BATCHED_TOKENS.toLocaleString('en-US')}, numBlocks sized so nothing is preempted (checked), block 16, prefix `
      + `caching on (default). After the prefill steps and ${WARM_STEPS} warm-up steps, each run times its decode steps one by `
      + 'one (checked: N outputs and N new tokens per step); each configuration runs in a fresh process, configurations '
      + 'alternating each round. Context is the prompt plus the tokens generated by the last timed step (early sequences '
      + 'decode while later ones prefill). Host ms: wall time per step, all timed steps of all rounds pooled (the mean '
      + 'includes the garbage collections a step\'s allocations cause, which the median mostly misses); run medians: the '
      + 'spread of each run\'s median; CPU ms: process CPU time per step, all threads (V8\'s GC helpers included). Byte, '
      + 'read, object and op counts are means per step. No GPU figure here: on CUDA the same host work would overlap kernel time or not, which this does not measure.',
  ].join('\n\n');
}

function labelBody(o, summaries, load, date) {
  const big = summaries.reduce((a, b) => (b.batch * b.context > a.batch * a.context ? b : a));
  return [
    `Measured ${date} on ${machineLine()}, engine at commit ${gitDescribe()}, with \`node bench/engine/host-overhead.mjs `
      + `${process.argv.slice(2).filter((a) => a !== '--write').map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' ')}\` `
      + `(${summaries[0].runs} round(s) × `
      + `${summaries[0].steps / summaries[0].runs} timed steps per configuration); load average ${load[0].toFixed(2)} at `
      + `start, ${load[1].toFixed(2)} at end on the shared cores, so wall times are upper bounds.`,
    table(summaries),
    `Ops replaced by counting no-ops: ${summaries[0].replaced.join(', ')}.`,
    `Op calls per step at ${big.batch} sequences, context ${big.context}: ${opBreakdown(big)}.`,
  ].join('\n\n');
}

// The section keeps one `### label` sub-section per label (before / after); this run replaces only its own.
function writeDocs(o, body) {
  const label = o.label ?? gitDescribe();
  const text = existsSync(o.docs) ? readFileSync(o.docs, 'utf8') : '';
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === `## ${TITLE}`);
  const end = start < 0 ? -1 : lines.findIndex((l, i) => i > start && l.startsWith('## '));
  const section = start < 0 ? [] : lines.slice(start + 1, end < 0 ? lines.length : end);
  const subs = new Map();
  let current;
  for (const l of section) {
    if (l.startsWith('### ')) subs.set((current = l.slice(4).trim()), []);
    else if (current !== undefined) subs.get(current).push(l);
  }
  subs.set(label, body.split('\n'));
  const parts = [intro(), ...[...subs].map(([k, v]) => `### ${k}\n\n${v.join('\n').trim()}`)];
  upsertSection(o.docs, TITLE, parts.join('\n\n'));
  console.log(`wrote ${o.docs} (section "${TITLE}", sub-section "${label}")`);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const model = ensureRandomLlama(modelsDir, { ...MODEL, config: { max_position_embeddings: MAX_POSITIONS } });
  const date = new Date().toISOString();
  const load0 = loadavg()[0];
  console.log(`date: ${date}\nmachine: ${machineLine()}\ncommit: ${gitDescribe()}\nload average at start: ${load0.toFixed(2)}`);
  const configs = o.batches.flatMap((batch) => o.contexts.map((context) => ({ batch, context })));
  const runs = new Map(configs.map((c) => [`${c.batch}x${c.context}`, []]));
  for (let r = 0; r < o.reps; r++) {
    for (const c of configs) {
      const res = await runInChild({ ...c, model, steps: o.steps, keep: o.keep });
      const m = summarize(res.steps.map((s) => s.hostMs));
      console.log(`round ${r + 1}: ${c.batch} seqs, context ${c.context}: host ${m.median.toFixed(2)} ms/step median `
        + `(${m.min.toFixed(2)}–${m.max.toFixed(2)}), ${res.prefillSteps} prefill steps`);
      runs.get(`${c.batch}x${c.context}`).push(res);
    }
  }
  const summaries = [...runs.values()].map(summarizeRuns);
  const load = [load0, loadavg()[0]];
  const body = labelBody(o, summaries, load, date);
  console.log(`\n${body}\n`);
  if (o.write) writeDocs(o, body);
}

async function child(spec) {
  let message;
  try {
    message = await runChild(spec);
  } catch (e) {
    message = { error: e.stack ?? String(e) };
  }
  // The IPC channel would keep this process alive; exit once the parent has the message.
  process.send(message, () => process.exit(0));
}

const childAt = process.argv.indexOf('--child');
if (childAt >= 0) await child(JSON.parse(process.argv[childAt + 1]));
else await main();
