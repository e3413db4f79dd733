#!/usr/bin/env node
// Sluice's output tokens/s on a fixed workload: N requests of P random prompt tokens, O output tokens each
// (ignoreEos, greedy), all added at once; wall time from the first addRequest to the last finished request
// (model load and KV sizing excluded). Prints one JSON line, with the median and p90 of a step's wall time
// (host and device together; with one request it is the per-token latency of decode).
//   node throughput.mjs --model DIR --device cpu|cuda --requests N --prompt P --output O [--max-seqs S]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const { values: v } = parseArgs({ options: {
  model: { type: 'string' }, device: { type: 'string', default: 'cpu' }, requests: { type: 'string', default: '8' },
  prompt: { type: 'string', default: '16' }, output: { type: 'string', default: '8' }, 'max-seqs': { type: 'string', default: '256' },
} });
if (!v.model) {
  console.error('usage: throughput.mjs --model DIR [--device cpu|cuda] [--requests N] [--prompt P] [--output O] [--max-seqs S]');
  process.exit(2);
}
const [N, P, O, S] = [v.requests, v.prompt, v.output, v['max-seqs']].map(Number);
const { LLMEngine } = createRequire(import.meta.url)('@sluice/engine');
const vocab = JSON.parse(readFileSync(`${v.model}/config.json`, 'utf8')).vocab_size;
let x = 7;
const id = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8) % (vocab - 16);

const engine = await LLMEngine.create({ model: v.model, device: v.device, maxNumSeqs: S, maxNumBatchedTokens: Math.max(8192, P), maxModelLen: P + O });
try {
  const start = performance.now();
  for (let r = 0; r < N; r++) {
    await engine.addRequest(`t${r}`, { promptTokenIds: Array.from({ length: P }, id) }, { temperature: 0, maxTokens: O, ignoreEos: true });
  }
  let outputTokens = 0;
  const stepMs = [];
  while (engine.hasUnfinishedRequests()) {
    const t0 = performance.now();
    for (const o of engine.step()) if (o.finished) outputTokens += o.outputs[0].tokenIds.length;
    stepMs.push(performance.now() - t0);
  }
  const seconds = (performance.now() - start) / 1000;
  const sorted = [...stepMs].sort((a, b) => a - b);
  const at = (q) => Number(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))].toFixed(3));
  console.log(JSON.stringify({
    engine: 'sluice', device: v.device, requests: N, prompt: P, output: O, outputTokens, steps: stepMs.length, seconds,
    stepMsMedian: at(0.5), stepMsP90: at(0.9), outputTokensPerSecond: outputTokens / seconds,
  }));
} finally {
  engine.close();
}
