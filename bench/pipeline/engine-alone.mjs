#!/usr/bin/env node
// The llm part's baseline, in a process of its own so it gets the same cores and threads as the worker:
// the jobs of a JSON file through AsyncEngine alone, all added at once. Prints {"seconds", "cpu"} on stdout:
// wall time from the model loaded to the last job done, and the process CPU seconds in that window.
// Usage: node bench/pipeline/engine-alone.mjs JOBS.json   ({ model, maxNumSeqs, jobs: PromptJob[] })
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { AsyncEngine } = require('@sluice/engine');

const { model, maxNumSeqs, jobs } = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const engine = await AsyncEngine.start({ model, maxNumSeqs });
try {
  const start = Date.now();
  const cpu = cpuNow();
  await Promise.all(jobs.map((j) => engine.add({ id: j.job_id, input: { prompt: j.prompt }, params: { temperature: 0, maxTokens: j.sampling.max_tokens, ignoreEos: true } })));
  console.log(JSON.stringify({ seconds: (Date.now() - start) / 1000, cpu: cpuNow() - cpu }));
} finally {
  await engine.shutdown();
}
