#!/usr/bin/env node
// Engine parity on one model: `run` writes what one device computes for fixed token-id prompts (every prompt
// token's logprob; greedy tokens with their top-2 logprobs); `compare` checks two such files (Sluice on CPU vs CUDA,
// or Sluice vs hf.py's Transformers output): prompt logprobs within --tol, greedy tokens equal up to the first
// near-tie (top-2 gap under --tie on either side, where rounding may rightly pick either token).
//   node parity.mjs run --model DIR --device cpu|cuda --out FILE
//   node parity.mjs compare A.json B.json --tol 1e-4 [--tie 1e-3]
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const MAX_TOKENS = 24;
const PROMPT_LENS = [5, 33, 64, 150];

/** Seeded prompts of ordinary (non-special) token ids, the same for Sluice and hf.py (which reads them from the file). */
function parityPrompts(vocab) {
  let x = 12345;
  return PROMPT_LENS.map((n) => Array.from({ length: n }, () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x >>> 8) % Math.max(1, vocab - 16);
  }));
}

async function run({ model, device, out }) {
  const { LLMEngine } = createRequire(import.meta.url)('@sluice/engine');
  const vocab = JSON.parse(readFileSync(`${model}/config.json`, 'utf8')).vocab_size;
  const prompts = parityPrompts(vocab);
  const engine = await LLMEngine.create({ model, device, maxNumSeqs: 8, ...(device === 'cpu' ? {} : { gpuMemoryUtilization: 0.5 }) });
  try {
    const params = { temperature: 0, maxTokens: MAX_TOKENS, ignoreEos: true, logprobs: 2, promptLogprobs: 0 };
    for (const [i, ids] of prompts.entries()) await engine.addRequest(`p${i}`, { promptTokenIds: ids }, params);
    const done = new Map();
    while (engine.hasUnfinishedRequests()) for (const o of engine.step()) if (o.finished) done.set(o.requestId, o);
    const rows = prompts.map((ids, i) => {
      const o = done.get(`p${i}`);
      const c = o.outputs[0];
      return {
        prompt: ids,
        promptLogprobs: o.promptLogprobs.slice(1).map((e) => e.logprob),
        tokens: c.tokenIds,
        top2: c.logprobs.map((e) => e.top.slice(0, 2).map((t) => t.logprob)),
      };
    });
    writeFileSync(out, JSON.stringify({ source: `sluice-${device}`, model, rows }));
  } finally {
    engine.close();
  }
}

/** Max |Δ| of prompt logprobs, and for each prompt the greedy tokens compared up to the first near-tie. */
function compare(a, b, tol, tie) {
  let maxDiff = 0;
  let compared = 0;
  let mismatch = null;
  a.rows.forEach((ra, i) => {
    const rb = b.rows[i];
    ra.promptLogprobs.forEach((v, j) => (maxDiff = Math.max(maxDiff, Math.abs(v - rb.promptLogprobs[j]))));
    for (let t = 0; t < ra.tokens.length; t++) {
      const gap = (r) => (r.top2[t].length > 1 ? r.top2[t][0] - r.top2[t][1] : Infinity);
      if (ra.tokens[t] !== rb.tokens[t]) {
        if (mismatch === null) mismatch = { prompt: i, position: t, a: ra.tokens[t], b: rb.tokens[t] };
        break;
      }
      compared++;
      if (gap(ra) < tie || gap(rb) < tie) break; // past a near-tie either token is right: stop comparing
    }
  });
  return { ok: maxDiff <= tol && mismatch === null, maxPromptLogprobDiff: maxDiff, tol, greedyTokensCompared: compared, mismatch };
}

const [cmd, ...rest] = process.argv.slice(2);
const { positionals, values } = parseArgs({
  args: rest, allowPositionals: true,
  options: { model: { type: 'string' }, device: { type: 'string' }, out: { type: 'string' }, tol: { type: 'string' }, tie: { type: 'string' } },
});
if (cmd === 'run' && values.model && values.device && values.out) {
  await run(values);
} else if (cmd === 'compare' && positionals.length === 2 && values.tol) {
  const [a, b] = positionals.map((p) => JSON.parse(readFileSync(p, 'utf8')));
  const r = compare(a, b, Number(values.tol), Number(values.tie ?? 1e-3));
  console.log(JSON.stringify({ a: a.source, b: b.source, ...r }));
  process.exit(r.ok ? 0 : 1);
} else {
  console.error('usage: parity.mjs run --model DIR --device cpu|cuda --out FILE | compare A.json B.json --tol X [--tie Y]');
  process.exit(2);
}
