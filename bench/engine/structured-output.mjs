#!/usr/bin/env node
// Structured output's costs on CPU: grammar compile time (cold and cached) on the tiny model's 902-token vocabulary
// and on a synthetic 128,256-token byte-level vocabulary (Llama 3's size), the time to fill one step's bitmasks
// for 64 and 256 sequences on both, the same fill through a pool of 1 and 2 grammar threads, and engine decode throughput at batch 64 with every request constrained or
// none, in alternating runs (medians and ranges), with the grammar thread's fill time and the engine thread's wait.
// Usage: node bench/engine/structured-output.mjs [--write] [--docs PATH] [--rounds N]   (build first: npm run build)
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureRandomLlama } from './random-llama.mjs';
import { rng } from './rng.mjs';

const require = createRequire(import.meta.url);
const { GrammarCompiler, GrammarService, grammarVocab, LLMEngine, structuredOutputOf, TextTokenizer } = require('@sluice/engine');
const { machineLine, markdownTable, summarize, upsertSection } = require('@sluice/bench');

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const modelsDir = process.env.SLUICE_MODELS_DIR ?? join(root, '.cache', 'models');
const TITLE = 'Engine: structured output on CPU';
const BATCH = 64;
const MASK_BATCHES = [64, 256];
const SCHEMAS = {
  'object, 4 fields': { type: 'object', properties: { name: { type: 'string', maxLength: 16 }, age: { type: 'integer', minimum: 0, maximum: 120 }, tags: { type: 'array', items: { enum: ['a', 'b', 'c'] } }, ok: { type: 'boolean' } }, required: ['name', 'age'] },
  'nested, 3 levels': { type: 'object', properties: { a: { type: 'object', properties: { b: { type: 'object', properties: { c: { type: 'array', items: { type: 'number' } } } } } } } },
  'enum of 50': { type: 'string', enum: Array.from({ length: 50 }, (_, i) => `label-${i}`) },
  // One string member, unbounded and with a maxLength (XGrammar's bounded repetition is what costs inside it).
  'object, 1 string': { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
  'object, 1 string, maxLength 16': { type: 'object', properties: { name: { type: 'string', maxLength: 16 } }, required: ['name'] },
};

// A byte-level vocabulary of n tokens: the 256 byte symbols (GPT-2's byte-to-unicode map), then distinct
// pseudo-random 2-8 character pieces from a seeded generator.
function syntheticVocab(n) {
  const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,.:{}[]"\'-_\u0120';
  const byteSymbol = (b) => String.fromCharCode(b < 33 ? 256 + b : b > 126 && b < 161 ? 162 + b : b === 173 ? 323 : b);
  const tokens = Array.from({ length: 256 }, (_, b) => byteSymbol(b));
  const seen = new Set(tokens);
  const next = rng(12345);
  while (tokens.length < n) {
    const len = 2 + Math.floor(next() * 7);
    let t = '';
    for (let i = 0; i < len; i++) t += chars[Math.floor(next() * chars.length)];
    if (!seen.has(t)) (seen.add(t), tokens.push(t));
  }
  return { tokens, vocabType: 'byte_level', prependSpace: false };
}

// Median time to fill one step's masks for n sequences, each after the given tokens (median of 20).
function maskTime(grammar, n, prefix, what = "") {
  const matchers = Array.from({ length: n }, () => grammar.newMatcher());
  for (const m of matchers) for (const t of prefix) if (!m.accept(t)) throw new Error(`${what}: prefix token ${t} refused`);
  const buf = new Int32Array(n * matchers[0].words);
  const steps = [];
  for (let r = 0; r < 20; r++) {
    const t = performance.now();
    matchers.forEach((m, i) => m.fillBitmask(buf, i * m.words));
    steps.push(performance.now() - t);
  }
  for (const m of matchers) m.dispose();
  return summarize(steps).median;
}

// prefixes[name]: token ids that open the document and, where it has one, a string value (its costliest state).
async function compileTimes(vocab, stop, prefixes) {
  const rows = [];
  for (const [name, schema] of Object.entries(SCHEMAS)) {
    const compiler = await GrammarCompiler.create(vocab, stop);
    const so = structuredOutputOf({ guidedJson: schema });
    let t = performance.now();
    const grammar = await compiler.compile(so);
    const cold = performance.now() - t;
    const cached = [];
    for (let i = 0; i < 20; i++) {
      t = performance.now();
      (await compiler.compile(so)).release();
      cached.push(performance.now() - t);
    }
    const masks = {};
    for (const n of MASK_BATCHES) masks[n] = { start: maskTime(grammar, n, []), inside: maskTime(grammar, n, prefixes[name], name) };
    grammar.release();
    rows.push({ name, cold, cached: summarize(cached).median, masks });
  }
  return rows;
}

const POOL_ROWS = 256;
const POOL_SCHEMA = 'object, 4 fields';

// Median time of one step's fill through GrammarService (post, the threads' work, the engine thread's wait) for
// POOL_ROWS sequences inside a document, with `threads` grammar threads each holding its share of the matchers.
async function poolFillTime(vocab, stop, threads, prefix) {
  const service = new GrammarService({ vocab, stopTokenIds: stop, maxRows: POOL_ROWS, threads });
  try {
    const grammar = await service.compile(structuredOutputOf({ guidedJson: SCHEMAS[POOL_SCHEMA] }));
    const rows = Array.from({ length: POOL_ROWS }, () => ({ matcher: grammar.newMatcher(prefix), holdStop: false }));
    grammar.release();
    const fill = () => {
      const { failures } = service.fill(rows).wait();
      if (failures.size > 0) throw new Error(`pool fill: ${[...failures.values()][0].message}`);
    };
    fill(); // waits for the matchers' replays too
    const times = [];
    for (let r = 0; r < 10; r++) {
      const t = performance.now();
      fill();
      times.push(performance.now() - t);
    }
    for (const r of rows) r.matcher.dispose();
    return summarize(times).median;
  } finally {
    service.close();
  }
}

// The text each schema's documents start with, up to inside its first string value (or its first value).
const PREFIX_TEXT = {
  'object, 4 fields': '{"name": "ab', 'nested, 3 levels': '{"a": {"b": {"c": [1', 'enum of 50': '"label-',
  'object, 1 string': '{"name": "ab', 'object, 1 string, maxLength 16': '{"name": "ab',
};
const byteIds = (text) => [...Buffer.from(text, 'utf8')];

// Decode throughput of BATCH requests with the given constraint (none: ignoreEos, so all run maxTokens), timed
// from the first step (compiles are done by then); per step, the grammar thread's fill time, the engine thread's
// wait for it, and the engine thread's whole mask share (wait, staging, applyTokenBitmask).
async function throughput(model, constraint) {
  const engine = await LLMEngine.create({ model, maxNumSeqs: BATCH, maxNumBatchedTokens: 4096 });
  const params = (i) => ({ temperature: 1, seed: i, maxTokens: 64, ignoreEos: !constraint, ...constraint });
  for (let i = 0; i < BATCH; i++) await engine.addRequest(`r${i}`, `Request ${i}: give the record`, params(i));
  const t = performance.now();
  while (engine.hasUnfinishedRequests()) engine.step();
  const ms = performance.now() - t;
  const s = engine.stats();
  engine.close();
  const per = (x) => (x ?? 0) / s.stepCount;
  return {
    tokensPerS: (s.generationTokensTotal / ms) * 1000, steps: s.stepCount, tokens: s.generationTokensTotal, stepMs: ms / s.stepCount,
    maskMs: per(s.grammarMaskMs), fillMs: per(s.grammar?.maskFillMs), waitMs: per(s.grammar?.maskWaitMs),
  };
}

// Runs the configurations in turn, `rounds` times (so drift in the shared machine's load spreads over all of them).
async function alternating(model, configs, rounds) {
  const runs = Object.fromEntries(Object.keys(configs).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) for (const [name, constraint] of Object.entries(configs)) runs[name].push(await throughput(model, constraint));
  return runs;
}

const args = process.argv.slice(2);
const rounds = args.includes('--rounds') ? Number(args[args.indexOf('--rounds') + 1]) : 5;
const docs = args.includes('--docs') ? args[args.indexOf('--docs') + 1] : join(root, 'docs', 'benchmarks.md');
const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
const load0 = loadavg()[0];
const tinyDir = join(modelsDir, 'tiny-llama');
const tinyConfig = JSON.parse(readFileSync(join(tinyDir, 'config.json'), 'utf8'));
const tiny = grammarVocab(readFileSync(join(tinyDir, 'tokenizer.json'), 'utf8'), tinyConfig.vocab_size);
const tinyTokenizer = TextTokenizer.fromFile(join(tinyDir, 'tokenizer.json'));
const tinyPrefixes = {};
for (const [name, text] of Object.entries(PREFIX_TEXT)) tinyPrefixes[name] = await tinyTokenizer.encode(text, false);
// The synthetic vocabulary's first 256 ids are the bytes themselves.
const byteTokenPrefixes = Object.fromEntries(Object.entries(PREFIX_TEXT).map(([name, text]) => [name, byteIds(text)]));
// Warm-up (JIT, page cache) before anything is timed.
await compileTimes(tiny, [tinyConfig.eos_token_id], tinyPrefixes);
const compileRows = [
  ...(await compileTimes(tiny, [tinyConfig.eos_token_id], tinyPrefixes)).map((r) => ({ vocab: '902 (tiny-llama)', ...r })),
  ...(await compileTimes(syntheticVocab(128256), [1], byteTokenPrefixes)).map((r) => ({ vocab: '128,256 (synthetic byte-level)', ...r })),
];
const POOL_THREADS = [1, 2];
const pool = Object.fromEntries(POOL_THREADS.map((n) => [n, []]));
const bigVocab = syntheticVocab(128256);
for (let r = 0; r < rounds; r++) for (const n of POOL_THREADS) pool[n].push(await poolFillTime(bigVocab, [1], n, byteTokenPrefixes[POOL_SCHEMA]));
const model = ensureRandomLlama(modelsDir);
await throughput(model, undefined);
const CONFIGS = {
  unconstrained: undefined,
  // 512 letters or spaces cannot be written in 64 tokens of this vocabulary: every sequence runs its 64 tokens, as unconstrained.
  'regex [a-z ]{512}': { guidedRegex: '[a-z ]{512}' },
  'JSON schema, 4 fields': { guidedJson: SCHEMAS['object, 4 fields'] },
};
const runs = await alternating(model, CONFIGS, rounds);
const load1 = loadavg()[0];

const f = (x, d = 2) => x.toFixed(d);
const stat = (list, key, d = 1) => {
  const s = summarize(list.map((r) => r[key]));
  return `${f(s.median, d)} (${f(s.min, d)}-${f(s.max, d)})`;
};
const median = (list, key) => summarize(list.map((r) => r[key])).median;
const freeTps = median(runs.unconstrained, 'tokensPerS');
const body = [
  `Measured ${new Date().toISOString()} on ${machineLine()}, commit ${commit}, with \`node bench/engine/structured-output.mjs\`; load average ${f(load0)} at start, ${f(load1)} at end on the shared cores. CPU only; no GPU figure.`,
  '',
  `Compile: \`GrammarCompiler.compile\` of a JSON schema, cold (a fresh compiler, so XGrammar's own work) and cached (the LRU, median of 20); in the engine this runs on the grammar thread, bounded by \`grammarCompileTimeoutMs\`. Masks: one thread's time to fill one step's bitmasks for ${MASK_BATCHES.join(' and ')} sequences (median of 20), at the document's start and inside it (after \`{"name": "ab\` for the objects with a name, \`{"a": {"b": {"c": [1\` and \`"label-\`); in the engine the grammar thread does this while the step's forward runs.`,
  '',
  markdownTable(['vocabulary', 'schema', 'compile cold ms', 'cached ms', ...MASK_BATCHES.flatMap((n) => [`${n} masks start ms`, `${n} masks inside ms`])],
    compileRows.map((r) => [r.vocab, r.name, f(r.cold, 1), f(r.cached, 3), ...MASK_BATCHES.flatMap((n) => [f(r.masks[n].start, 3), f(r.masks[n].inside, 3)])])),
  '',
  `Grammar threads: one step's fill through \`GrammarService\` (posting the rows, the threads' work, the engine thread's wait) for ${POOL_ROWS} sequences inside the ${POOL_SCHEMA} document (after \`${PREFIX_TEXT[POOL_SCHEMA]}\`) on the 128,256-token vocabulary, with each thread count (\`grammarThreads\`) in turn for ${rounds} rounds, each a fresh service; per run the median of 10 fills; medians of the runs with (min-max). Each thread holds every grammar and its share of the matchers (matcher id modulo the threads).`,
  '',
  markdownTable(['grammar threads', `${POOL_ROWS} masks ms`, 'vs 1 thread'],
    POOL_THREADS.map((n) => {
      const s = summarize(pool[n]);
      return [String(n), `${f(s.median, 1)} (${f(s.min, 1)}-${f(s.max, 1)})`, n === 1 ? '-' : `${f(summarize(pool[1]).median / s.median, 2)}x`];
    })),
  '',
  `Engine: ${BATCH} requests at once on the random ~100M Llama (bench-llama-100m, 902-token vocabulary), sampled, 64 new tokens at most, after one unconstrained warm-up run; asyncScheduling off (the CPU default); ${rounds} rounds, each running the three configurations in turn (a fresh engine per run), so load drift spreads over all; medians with (min-max). Every request unconstrained (\`ignoreEos\`), or constrained by the regex \`[a-z ]{512}\` (which no sequence can finish in 64 tokens, so the work is the same as unconstrained), or by the 4-field object schema (sequences stop when their document ends: fewer tokens, smaller late batches). Per step: *fill*, the grammar thread's time filling the masks (overlapping the forward); *wait*, the engine thread's time blocked on them (the part not hidden); *mask*, the engine thread's whole mask share (wait, staging the masks into the one upload, \`applyTokenBitmask\`).`,
  '',
  markdownTable(['requests', 'tokens', 'steps', 'output tokens/s', 'vs unconstrained', 'step ms', 'fill ms/step', 'wait ms/step', 'mask ms/step'],
    Object.entries(runs).map(([name, list]) => [
      name, String(median(list, 'tokens')), String(median(list, 'steps')), stat(list, 'tokensPerS'),
      name === 'unconstrained' ? '-' : `${f((median(list, 'tokensPerS') / freeTps - 1) * 100, 1)}%`, stat(list, 'stepMs'),
      name === 'unconstrained' ? '-' : stat(list, 'fillMs', 3), name === 'unconstrained' ? '-' : stat(list, 'waitMs', 3), name === 'unconstrained' ? '-' : stat(list, 'maskMs', 3),
    ])),
].join('\n');
console.log(body);
if (args.includes('--write')) upsertSection(docs, TITLE, body);
