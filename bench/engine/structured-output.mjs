#!/usr/bin/env node
// Structured output's costs on CPU: grammar compile time (cold and cached) on the tiny model's 902-token vocabulary
// and on a synthetic 128,256-token byte-level vocabulary (Llama 3's size), the host time to build one step's
// bitmasks for 64 sequences on both, and engine decode throughput at batch 64, every request constrained or none.
// Usage: node bench/engine/structured-output.mjs [--write] [--docs PATH]   (build first: npm run build)
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureRandomLlama } from './random-llama.mjs';
import { rng } from './rng.mjs';

const require = createRequire(import.meta.url);
const { GrammarCompiler, grammarVocab, LLMEngine, structuredOutputOf } = require('@sluice/engine');
const { machineLine, markdownTable, summarize, upsertSection } = require('@sluice/bench');

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const modelsDir = process.env.SLUICE_MODELS_DIR ?? join(root, '.cache', 'models');
const TITLE = 'Engine: structured output on CPU';
const BATCH = 64;
const SCHEMAS = {
  'object, 4 fields': { type: 'object', properties: { name: { type: 'string', maxLength: 16 }, age: { type: 'integer', minimum: 0, maximum: 120 }, tags: { type: 'array', items: { enum: ['a', 'b', 'c'] } }, ok: { type: 'boolean' } }, required: ['name', 'age'] },
  'nested, 3 levels': { type: 'object', properties: { a: { type: 'object', properties: { b: { type: 'object', properties: { c: { type: 'array', items: { type: 'number' } } } } } } } },
  'enum of 50': { type: 'string', enum: Array.from({ length: 50 }, (_, i) => `label-${i}`) },
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

async function compileTimes(vocab, stop) {
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
    // One step's masks for BATCH sequences, each a few tokens into the document (the '{' state).
    const matchers = Array.from({ length: BATCH }, () => grammar.newMatcher());
    const buf = new Int32Array(BATCH * matchers[0].words);
    const steps = [];
    for (let r = 0; r < 20; r++) {
      t = performance.now();
      matchers.forEach((m, i) => m.fillBitmask(buf, i * m.words));
      steps.push(performance.now() - t);
    }
    for (const m of matchers) m.dispose();
    grammar.release();
    rows.push({ name, cold, cached: summarize(cached).median, mask: summarize(steps).median });
  }
  return rows;
}

// Decode throughput of BATCH requests with the given constraint (none: ignoreEos, so all run maxTokens).
async function throughput(model, constraint) {
  const engine = await LLMEngine.create({ model, maxNumSeqs: BATCH, maxNumBatchedTokens: 4096 });
  const params = (i) => ({ temperature: 1, seed: i, maxTokens: 64, ignoreEos: !constraint, ...constraint });
  for (let i = 0; i < BATCH; i++) await engine.addRequest(`r${i}`, `Request ${i}: give the record`, params(i));
  const t = performance.now();
  while (engine.hasUnfinishedRequests()) engine.step();
  const ms = performance.now() - t;
  const s = engine.stats();
  engine.close();
  return { tokensPerS: (s.generationTokensTotal / ms) * 1000, steps: s.stepCount, maskMsPerStep: s.grammarMaskMs / s.stepCount, tokens: s.generationTokensTotal };
}

const args = process.argv.slice(2);
const docs = args.includes('--docs') ? args[args.indexOf('--docs') + 1] : join(root, 'docs', 'benchmarks.md');
const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
const load0 = loadavg()[0];
const tinyDir = join(modelsDir, 'tiny-llama');
const tinyConfig = JSON.parse(readFileSync(join(tinyDir, 'config.json'), 'utf8'));
const tiny = grammarVocab(readFileSync(join(tinyDir, 'tokenizer.json'), 'utf8'), tinyConfig.vocab_size);
// Warm-up (JIT, page cache) before anything is timed.
await compileTimes(tiny, [tinyConfig.eos_token_id]);
const compileRows = [
  ...(await compileTimes(tiny, [tinyConfig.eos_token_id])).map((r) => ({ vocab: '902 (tiny-llama)', ...r })),
  ...(await compileTimes(syntheticVocab(128256), [1])).map((r) => ({ vocab: '128,256 (synthetic byte-level)', ...r })),
];
const model = ensureRandomLlama(modelsDir);
await throughput(model, undefined);
const free = await throughput(model, undefined);
// 512 letters or spaces cannot be written in 64 tokens of this vocabulary: every sequence runs its 64 tokens, as unconstrained.
const regex = await throughput(model, { guidedRegex: '[a-z ]{512}' });
const json = await throughput(model, { guidedJson: SCHEMAS['object, 4 fields'] });
const load1 = loadavg()[0];

const f = (x, d = 2) => x.toFixed(d);
const body = [
  `Measured ${new Date().toISOString()} on ${machineLine()}, commit ${commit}, with \`node bench/engine/structured-output.mjs\`; load average ${f(load0)} at start, ${f(load1)} at end on the shared cores. CPU only; no GPU figure.`,
  '',
  `Compile: \`GrammarCompiler.compile\` of a JSON schema, cold (a fresh compiler, so XGrammar's own work) and cached (the engine's LRU, median of 20). Masks: host time to fill one step's bitmasks for ${BATCH} sequences at the document's start (median of 20), the per-step work the sampler adds before \`applyTokenBitmask\`.`,
  '',
  markdownTable(['vocabulary', 'schema', 'compile cold ms', 'cached ms', `${BATCH} masks ms`], compileRows.map((r) => [r.vocab, r.name, f(r.cold, 1), f(r.cached, 3), f(r.mask, 3)])),
  '',
  `Engine: ${BATCH} requests at once on the random ~100M Llama (bench-llama-100m, 902-token vocabulary), sampled, 64 new tokens at most, after one unconstrained warm-up run; asyncScheduling off (the CPU default). Every request unconstrained (\`ignoreEos\`), or constrained by the regex \`[a-z ]{512}\` (which no sequence can finish in 64 tokens, so the work is the same as unconstrained), or by the 4-field object schema (sequences stop when their document ends: fewer tokens, smaller late batches).`,
  '',
  markdownTable(['requests', 'tokens', 'steps', 'output tokens/s', 'mask ms/step'], [
    ['unconstrained', String(free.tokens), String(free.steps), f(free.tokensPerS, 1), '-'],
    ['regex [a-z ]{512}', String(regex.tokens), String(regex.steps), f(regex.tokensPerS, 1), f(regex.maskMsPerStep, 3)],
    ['JSON schema, 4 fields', String(json.tokens), String(json.steps), f(json.tokensPerS, 1), f(json.maskMsPerStep, 3)],
  ]),
].join('\n');
console.log(body);
if (args.includes('--write')) upsertSection(docs, TITLE, body);
