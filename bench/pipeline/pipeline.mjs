#!/usr/bin/env node
// The pipeline around the engine, on real local Kafka and S3 (@sluice/infra, own ports):
//  1. echo: jobs/s through Kafka -> sluice-consumer (echo engine, instant) -> Kafka + S3, exactly-once, with the
//     delivery and export variants that show what bounds it;
//  2. llm: the same path with the real engine on CPU, against the engine alone on the same jobs, so the
//     pipeline's share of end-to-end time is visible.
// Usage: node bench/pipeline/pipeline.mjs [--quick] [--write] [--part echo|llm]   (build first: npx nx run-many -t build)
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { startLocalServices, stopLocalServices, resolveConfig: localConfig } = require('@sluice/infra');
const { RecordCodec, PromptJobSchemas } = require('@sluice/schema');
const { AsyncEngine } = require('@sluice/engine');
const { machineLine, markdownTable, upsertSection, formatNumber } = require('@sluice/bench');
const { Kafka, logLevel } = require('kafkajs');
const { S3Client, CreateBucketCommand } = require('@aws-sdk/client-s3');

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(root, 'apps', 'consumer', 'dist', 'main.js');
const modelsDir = process.env.SLUICE_MODELS_DIR ?? join(root, '.cache', 'models');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const write = args.includes('--write');
const part = args.includes('--part') ? args[args.indexOf('--part') + 1] : 'all';
const ECHO_JOBS = quick ? 20_000 : 100_000;
const PARTITIONS = 6;
const CLK_TCK = 100;

const services = localConfig({}, {
  SLUICE_KAFKA_PORT: process.env.SLUICE_BENCH_KAFKA_PORT ?? '39592',
  SLUICE_KAFKA_CONTROLLER_PORT: process.env.SLUICE_BENCH_KAFKA_CONTROLLER_PORT ?? '39593',
  SLUICE_S3_PORT: process.env.SLUICE_BENCH_S3_PORT ?? '39500',
  SLUICE_DATA_DIR: join(tmpdir(), 'sluice-bench-pipeline'),
  SLUICE_CACHE_DIR: process.env.SLUICE_CACHE_DIR,
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** User + system CPU seconds so far of a process, or of one of its threads (Linux /proc). */
function cpuSeconds(pid, tid) {
  const fields = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

let servicePids = [];
/** CPU seconds the broker and the S3 server have used so far: they share the cores with the worker. */
const servicesCpu = () => servicePids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);

/** Produces n jobs as single-object Avro, the wire format of `sluice produce`, spread over the partitions. */
async function produceJobs(kafka, topic, jobs) {
  const codec = new RecordCodec(PromptJobSchemas);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (let i = 0; i < jobs.length; i += 2000) {
    const messages = await Promise.all(jobs.slice(i, i + 2000).map(async (j, k) => ({ key: j.job_id, value: await codec.encode(j), partition: (i + k) % PARTITIONS })));
    await producer.send({ topic, acks: -1, messages });
  }
  await producer.disconnect();
}

async function committed(admin, group, topic) {
  const [c] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  return c.partitions.reduce((s, p) => s + Math.max(0, Number(p.offset)), 0);
}

/**
 * Runs the bin until the group has committed every job: the end is found by polling the group's offsets every
 * 50 ms, the start of work from the worker's own "partitions assigned" log line (process start, model load and
 * group join come before it and are reported apart).
 */
async function runConsumer(admin, s3Bucket, t, total, flags, env = {}) {
  const logs = [];
  const child = spawn(process.execPath, [BIN, '--jobs-topic', t.jobs, '--results-topic', t.results, '--dlq-topic', t.dlq, '--group', t.group, ...flags], {
    env: {
      PATH: process.env.PATH, HOME: process.env.HOME, SLUICE_KAFKA_BROKERS: `127.0.0.1:${services.kafkaPort}`, SLUICE_METRICS_PORT: '0', SLUICE_LOG_LEVEL: 'info',
      SLUICE_S3_BUCKET: s3Bucket, SLUICE_S3_ENDPOINT: `http://127.0.0.1:${services.s3Port}`, SLUICE_S3_FORCE_PATH_STYLE: 'true', SLUICE_EXPORT_PREFIX: t.group,
      AWS_ACCESS_KEY_ID: 'sluice', AWS_SECRET_ACCESS_KEY: 'sluice-secret', AWS_REGION: 'us-east-1', ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let buf = '';
  const onData = (d) => {
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop();
    logs.push(...lines);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise((r) => child.on('exit', (code) => r(code)));
  const spawnedAt = Date.now();
  const servicesBefore = servicesCpu();
  let atAssigned;
  let done = 0;
  const deadline = spawnedAt + 30 * 60_000;
  while (done < total) {
    if (child.exitCode !== null) throw new Error(`consumer exited early (${child.exitCode}):\n${logs.slice(-20).join('\n')}`);
    if (Date.now() > deadline) throw new Error('consumer did not finish in 30 minutes');
    await sleep(50);
    done = await committed(admin, t.group, t.jobs);
    // CPU counters at the start of the timed window (within one 50 ms poll of it).
    if (!atAssigned && logs.some((l) => l.includes('"msg":"partitions assigned"'))) atAssigned = { cpu: cpuSeconds(child.pid), mainCpu: cpuSeconds(child.pid, child.pid), services: servicesCpu() };
  }
  const doneAt = Date.now();
  const cpu = cpuSeconds(child.pid);
  // The main thread is the pipeline (Kafka, decode, commits, export); the engine computes on other threads.
  const mainCpu = cpuSeconds(child.pid, child.pid);
  const servicesUsed = servicesCpu() - (atAssigned?.services ?? servicesBefore);
  child.kill('SIGTERM');
  const code = await exited;
  if (code !== 0) throw new Error(`consumer exit code ${code}`);
  const logTime = (msg) => {
    const line = logs.find((l) => l.includes(`"msg":"${msg}"`));
    return line ? JSON.parse(line).time : undefined;
  };
  // Whole run (echo rates per CPU-second) and the timed window alone (the real engine's overhead).
  const window = { cpu: cpu - (atAssigned?.cpu ?? 0), mainCpu: mainCpu - (atAssigned?.mainCpu ?? 0) };
  return { spawnedAt, assignedAt: logTime('partitions assigned'), doneAt, cpu, mainCpu, services: servicesUsed, window };
}

async function freshTopics(admin, label) {
  const id = `${label}-${randomUUID().slice(0, 8)}`;
  const t = { jobs: `jobs-${id}`, results: `results-${id}`, dlq: `dlq-${id}`, group: `group-${id}` };
  await admin.createTopics({ topics: [t.jobs, t.results, t.dlq].map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 1 })), waitForLeaders: true });
  return t;
}

function echoJobs(n, batch) {
  return Array.from({ length: n }, (_, i) => ({
    job_id: `${batch}-${i}`, batch_id: batch, prompt: `Summarise ticket ${i}: the customer reports that the export stalls after the first part.`,
    sampling: { temperature: 0, max_tokens: 64 }, metadata: { row: String(i) }, created_at: Date.now(),
  }));
}

const ECHO_VARIANTS = [
  { name: 'exactly-once, S3 export (jsonl)', flags: [] },
  { name: 'exactly-once, S3 export, commit every 250 ms, 20k uncommitted', flags: ['--commit-interval-ms', '250', '--max-uncommitted', '20000'] },
  { name: 'exactly-once, no export', flags: ['--export', 'false'] },
  { name: 'at-least-once, no export', flags: ['--delivery', 'at-least-once', '--export', 'false'] },
];

const ECHO_ROUNDS = quick ? 1 : 3;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Every variant once per round, rounds in turn, so load from other jobs spreads over all of them. */
async function benchEcho(kafka, admin, bucket) {
  const runs = ECHO_VARIANTS.map(() => []);
  for (let round = 0; round < ECHO_ROUNDS; round++) {
    for (const [i, v] of ECHO_VARIANTS.entries()) {
      const t = await freshTopics(admin, 'echo');
      await produceJobs(kafka, t.jobs, echoJobs(ECHO_JOBS, t.group));
      const r = await runConsumer(admin, bucket, t, ECHO_JOBS, v.flags);
      const working = (r.doneAt - r.assignedAt) / 1000;
      runs[i].push({ rate: ECHO_JOBS / working, wall: (r.doneAt - r.spawnedAt) / 1000, perCpu: ECHO_JOBS / r.cpu, load: loadavg()[0] });
      console.log(`echo ${v.name}: ${formatNumber(ECHO_JOBS / working)} jobs/s (${formatNumber(runs[i].at(-1).wall)} s wall, ${formatNumber(r.cpu)} CPU-s, load ${formatNumber(loadavg()[0])})`);
    }
  }
  return ECHO_VARIANTS.map((v, i) => {
    const rates = runs[i].map((r) => r.rate);
    return { variant: v.name, flags: v.flags.join(' ') || '(defaults)', rate: median(rates), min: Math.min(...rates), max: Math.max(...rates), perCpu: median(runs[i].map((r) => r.perCpu)) };
  });
}

/** One fixed workload for the engine alone and through the pipeline: greedy, ignore_eos, so every job makes max_tokens. */
function llmJobs(n, batch, maxTokens) {
  return Array.from({ length: n }, (_, i) => ({
    job_id: `${batch}-${i}`, batch_id: batch, prompt: `request ${i}: ${'the quick brown fox jumps over the lazy dog '.repeat(1 + (i % 4))}`,
    sampling: { temperature: 0, max_tokens: maxTokens, ignore_eos: true }, metadata: {}, created_at: Date.now(),
  }));
}

async function engineAlone(model, jobs, maxNumSeqs) {
  const engine = await AsyncEngine.start({ model, maxNumSeqs });
  try {
    const start = Date.now();
    await Promise.all(jobs.map((j) => engine.add({ id: j.job_id, input: { prompt: j.prompt }, params: { temperature: 0, maxTokens: j.sampling.max_tokens, ignoreEos: true } })));
    return (Date.now() - start) / 1000;
  } finally {
    await engine.shutdown();
  }
}

async function benchLlm(kafka, admin, bucket) {
  const name = existsSync(join(modelsDir, 'bench-llama-100m', 'config.json')) ? 'bench-llama-100m' : 'tiny-llama';
  const model = join(modelsDir, name);
  const maxNumSeqs = 16;
  // A small batch shows the fixed cost per batch (first fetch, last commit interval, export); a larger one how it amortizes.
  const sizes = name === 'tiny-llama' ? [{ n: 64, maxTokens: 256 }] : quick ? [{ n: 16, maxTokens: 16 }] : [{ n: 16, maxTokens: 16 }, { n: 64, maxTokens: 32 }, { n: 128, maxTokens: 64 }];
  const rows = [];
  for (const { n, maxTokens } of sizes) {
    // Alternated and repeated: other jobs on the shared cores come and go, so each side keeps its fastest run.
    const runs = { alone: [], pipeline: [] };
    for (let rep = 0; rep < (quick ? 1 : 2); rep++) {
      runs.alone.push(await engineAlone(model, llmJobs(n, 'alone', maxTokens), maxNumSeqs));
      const t = await freshTopics(admin, 'llm');
      await produceJobs(kafka, t.jobs, llmJobs(n, t.group, maxTokens));
      const r = await runConsumer(admin, bucket, t, n, ['--engine', 'llm', '--model', model, '--max-num-seqs', String(maxNumSeqs)]);
      // From the worker holding its partitions (model loaded, group joined) to the last job committed.
      runs.pipeline.push({ ...r, seconds: (r.doneAt - r.assignedAt) / 1000 });
      console.log(`llm ${name} ${n} x ${maxTokens}: engine alone ${formatNumber(runs.alone.at(-1))} s, through the pipeline ${formatNumber(runs.pipeline.at(-1).seconds)} s`);
    }
    const alone = Math.min(...runs.alone);
    const best = runs.pipeline.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const pipeline = best.seconds;
    const w = best.window;
    rows.push({ model: name, jobs: n, maxTokens, runs: runs.alone.length, alone, pipeline, overhead: (pipeline - alone) / pipeline, engineCpu: w.cpu - w.mainCpu, mainCpu: w.mainCpu, cpuShare: w.mainCpu / w.cpu, services: best.services, startup: (best.assignedAt - best.spawnedAt) / 1000, pairs: runs.alone.map((a, i) => [a, runs.pipeline[i].seconds]) });
  }
  return rows;
}

async function main() {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build first (npx nx run-many -t build)`);
  const loadStart = loadavg()[0];
  await stopLocalServices(services);
  rmSync(services.dataDir, { recursive: true, force: true });
  const local = await startLocalServices(services);
  servicePids = local.statuses.map((st) => st.pid).filter((pid) => pid !== undefined);
  const kafka = new Kafka({ clientId: 'bench-pipeline', brokers: local.brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const bucket = `bench-${randomUUID().slice(0, 8)}`;
  await new S3Client(local.s3).send(new CreateBucketCommand({ Bucket: bucket }));
  let echo = [];
  let llm = [];
  try {
    if (part === 'all' || part === 'echo') echo = await benchEcho(kafka, admin, bucket);
    if (part === 'all' || part === 'llm') llm = await benchLlm(kafka, admin, bucket);
  } finally {
    await admin.disconnect();
    await local.stop();
  }
  const loadEnd = loadavg()[0];
  if (write) report(echo, llm, loadStart, loadEnd);
}

function header(loadStart, loadEnd) {
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  return [
    `Measured ${new Date().toISOString()} on ${machineLine()} with \`npm run bench:pipeline -w @sluice/bench\` (bench/pipeline/pipeline.mjs${quick ? ' --quick' : ''}${part === 'all' ? '' : ` --part ${part}`}): real local Kafka (KRaft, one broker) and S3Proxy from @sluice/infra on the same machine, the built \`sluice-consumer\` bin (commit ${commit}) as a child process, topics of ${PARTITIONS} partitions, jobs produced beforehand as single-object Avro.`,
    '',
    `Load: the ${availableParallelism()} logical cores are shared by the broker, S3Proxy, the consumer, this script and other jobs on the machine (load average ${formatNumber(loadStart)} at start, ${formatNumber(loadEnd)} at end), so wall-clock figures are lower bounds and move with the load; CPU-second figures are less sensitive to it.`,
    '',
  ];
}

function report(echo, llm, loadStart, loadEnd) {
  const docs = join(root, 'docs', 'benchmarks.md');
  if (echo.length) {
    const lines = header(loadStart, loadEnd);
    const target = echo[0].rate >= 5000 ? 'meets' : 'misses';
    lines.push(
      `${ECHO_JOBS.toLocaleString('en-US')} jobs per run through the echo engine (answers at once), so the Kafka fetch, decode, commit and export path is all that is measured. Rate: jobs / time from the worker holding its partitions to the last job committed (process start and group join excluded). ${ECHO_ROUNDS} rounds, each running every variant once; the table shows the median and the range. Jobs per CPU-second: jobs / CPU time of the consumer process, what the worker itself costs whatever the load.`,
      '',
      markdownTable(
        ['variant', 'flags', 'jobs/s (median)', 'jobs/s (range)', 'jobs per consumer CPU-s'],
        echo.map((r) => [r.variant, r.flags, r.rate, `${formatNumber(r.min)} - ${formatNumber(r.max)}`, r.perCpu]),
      ),
      '',
      `Target (issue 5): >= 5,000 jobs/s exactly-once with the export on 2 cores: **${formatNumber(echo[0].rate)} jobs/s** median with the defaults (${formatNumber(echo[0].min)} - ${formatNumber(echo[0].max)}), ${target} the target${echo[0].min < 5000 && echo[0].rate >= 5000 ? ' (not in every run: the slowest ran under the heaviest load)' : ''}; ${formatNumber(echo[1].rate)} jobs/s with a 250 ms commit interval and a 20k backlog. The worker costs about ${formatNumber(echo[0].perCpu)} jobs per CPU-second of its process (one thread does the pipeline work) and was not CPU-bound: a CPU profile of a 100,000-job run with the defaults (node --cpu-prof, taken apart from this script) showed its main thread idle about half the time, waiting on fetches and on commits (S3 export, then the Kafka transaction), that is on the broker and S3Proxy, which share the 2 cores with it and with the other jobs. With the defaults the worker also pauses while --max-uncommitted (4,096) jobs wait for their commit.`,
      '',
    );
    upsertSection(docs, 'Pipeline: echo engine throughput (Kafka -> sluice-consumer -> Kafka + S3)', lines.join('\n'));
  }
  if (llm.length) {
    const lines = header(loadStart, loadEnd);
    const worst = Math.max(...llm.map((r) => r.overhead));
    lines.push(
      `The same jobs (greedy, \`ignore_eos\`, so each generates exactly max_tokens) through the engine alone (AsyncEngine, all added at once) and through Kafka -> sluice-consumer --engine llm -> Kafka + S3 (exactly-once, defaults: 500 ms commit interval), both with maxNumSeqs 16 on the CPU backend. Pipeline time runs from the worker holding its partitions (model loaded, group joined) to the last job committed; overhead = (pipeline - engine alone) / pipeline. The two are alternated, each side keeps its fastest of the runs. CPU columns cover the same timed window of the fastest pipeline run: the consumer's main thread is its own pipeline work (Kafka, decode, commits, export), the other threads of the process are the engine, and broker + S3 is what the local Kafka and S3Proxy used meanwhile, on the same 2 cores the engine computes on. Startup (process start to partitions assigned, mostly the model load) is shown apart.`,
      '',
      markdownTable(
        ['model', 'jobs', 'max_tokens', 'runs', 'engine alone s', 'pipeline s', 'wall-clock overhead', 'engine CPU-s', 'consumer main-thread CPU-s', 'main thread share of worker CPU', 'broker + S3 CPU-s', 'startup s'],
        llm.map((r) => [r.model, r.jobs, r.maxTokens, r.runs, r.alone, r.pipeline, `${formatNumber(r.overhead * 100)}%`, r.engineCpu, r.mainCpu, `${formatNumber(r.cpuShare * 100)}%`, r.services, r.startup]),
      ),
      '',
      `Every run (engine alone s / pipeline s): ${llm.map((r) => `${r.jobs} x ${r.maxTokens}: ${r.pairs.map(([a, p]) => `${formatNumber(a)} / ${formatNumber(p)}`).join(', ')}`).join('; ')}.${llm.some((r) => r.overhead < 0) ? ' A negative overhead (the pipeline faster than the engine alone on the same jobs) is not an effect of the pipeline; it shows how far the engine\'s own time moves with the load here.' : ''}`,
      '',
      `Target (issue 5): pipeline overhead < 5% of end-to-end time. Wall clock: ${llm.map((r) => `${formatNumber(r.overhead * 100)}% for ${r.jobs} jobs x ${r.maxTokens} tokens`).join(', ')}; ${worst < 0.05 ? 'under 5% in every case' : 'not under 5% in every case'}, but with the engine's own time swinging by more than that between runs of the same jobs on these shared cores (see the runs above and the load line), the wall-clock figure cannot resolve a few percent here. CPU: the worker's main thread, where the whole pipeline runs, used ${llm.map((r) => `${formatNumber(r.cpuShare * 100)}% (${r.jobs} x ${r.maxTokens})`).join(' and ')} of the worker's CPU time in the window, the engine the rest. That is the pipeline's own cost on a machine of its own (Kafka and S3 elsewhere); it is about ${formatNumber(Math.max(...llm.map((r) => r.mainCpu / r.pipeline)) * 100)}% of one core for as long as the worker runs (fetch polling, heartbeats, the commit timer, then each commit), so its share shrinks as the engine's work grows: ${llm.map((r) => `${r.cpuShare < 0.05 ? 'under' : 'over'} 5% for ${r.jobs} x ${r.maxTokens}`).join(', ')}. On this machine the local broker and S3Proxy also took the CPU-seconds shown from the cores the engine computes on, which a worker with Kafka and S3 elsewhere does not pay.`,
      '',
    );
    upsertSection(docs, 'Pipeline: overhead around the real engine on CPU', lines.join('\n'));
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
