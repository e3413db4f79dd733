#!/usr/bin/env node
// The pipeline around the engine, on real local Kafka and S3 (@sluice/infra, own ports):
//  1. echo: jobs/s through Kafka -> sluice-consumer (echo engine, instant) -> Kafka + S3, exactly-once, with the
//     delivery and export variants that show what bounds it;
//  2. llm: the same path with the real engine on CPU, against the engine alone on the same jobs, so the
//     pipeline's share of end-to-end time is visible.
// Usage: node bench/pipeline/pipeline.mjs [--quick] [--write] [--part echo|llm]   (build first: npx nx run-many -t build)
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { startLocalServices, stopLocalServices, resolveConfig: localConfig } = require('@sluice/infra');
const { RecordCodec, PromptJobSchemas } = require('@sluice/schema');
const { machineLine, markdownTable, upsertSection, formatNumber } = require('@sluice/bench');
const { Kafka, logLevel } = require('kafkajs');
const { S3Client, CreateBucketCommand } = require('@aws-sdk/client-s3');

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(root, 'apps', 'consumer', 'dist', 'main.js');
const modelsDir = process.env.SLUICE_MODELS_DIR ?? join(root, '.cache', 'models');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const write = args.includes('--write');
const flag = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const part = flag('--part') ?? 'all';
// --sizes 16x16,128x64: the llm part's jobs x max_tokens instead of the defaults.
const sizesFlag = flag('--sizes')?.split(',').map((s) => {
  const m = /^(\d+)x(\d+)$/.exec(s);
  if (!m) throw new Error(`--sizes: expected JOBSxMAX_TOKENS[,...], got "${s}"`);
  return { n: Number(m[1]), maxTokens: Number(m[2]) };
});
const ECHO_JOBS = quick ? 20_000 : 100_000;
const PARTITIONS = 6;
const CLK_TCK = 100;
// Taken before the llm part pins this process to one core (availableParallelism follows the affinity mask).
const CORES = availableParallelism();

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

/** Pins a running process and all its threads to the given CPUs (Linux taskset); threads it starts later inherit it. */
function pin(pid, cpus) {
  execFileSync('taskset', ['-a', '-c', '-p', cpus, String(pid)], { stdio: 'ignore' });
}

/** A node child, on the given CPUs when the llm part lays the cores out (taskset execs, so the pid is node's). */
function spawnNode(script, argv, cpus, options) {
  return cpus ? spawn('taskset', ['-c', cpus, process.execPath, script, ...argv], options) : spawn(process.execPath, [script, ...argv], options);
}

/**
 * Runs the bin until the worker has committed every job. Both ends come from the worker's own log, so nothing
 * polls the broker meanwhile: the start from its "partitions assigned" line (process start, model load and group
 * join come before it and are reported apart), the end from the "committed" line (debug level) that brings the
 * committed record count to the total. With idleMs and no jobs, it ends idleMs after the start instead.
 */
async function runConsumer(s3Bucket, t, total, flags, { env = {}, cpus, idleMs } = {}) {
  const logs = [];
  const spawnedAt = Date.now();
  const child = spawnNode(BIN, ['--jobs-topic', t.jobs, '--results-topic', t.results, '--dlq-topic', t.dlq, '--group', t.group, ...flags], cpus, {
    env: {
      PATH: process.env.PATH, HOME: process.env.HOME, SLUICE_KAFKA_BROKERS: `127.0.0.1:${services.kafkaPort}`, SLUICE_METRICS_PORT: '0', SLUICE_LOG_LEVEL: 'debug',
      SLUICE_S3_BUCKET: s3Bucket, SLUICE_S3_ENDPOINT: `http://127.0.0.1:${services.s3Port}`, SLUICE_S3_FORCE_PATH_STYLE: 'true', SLUICE_EXPORT_PREFIX: t.group,
      AWS_ACCESS_KEY_ID: 'sluice', AWS_SECRET_ACCESS_KEY: 'sluice-secret', AWS_REGION: 'us-east-1', ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let buf = '';
  let assignedAt;
  let doneAt;
  let committedRecords = 0;
  let atAssigned;
  const servicesBefore = servicesCpu();
  const onData = (d) => {
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop();
    for (const line of lines) {
      logs.push(line);
      if (!line.startsWith('{')) continue;
      const entry = JSON.parse(line);
      if (entry.msg === 'partitions assigned' && assignedAt === undefined) {
        assignedAt = entry.time;
        // CPU counters at the start of the timed window (within a few ms of it: the line is read as it is written).
        atAssigned = { cpu: cpuSeconds(child.pid), mainCpu: cpuSeconds(child.pid, child.pid), services: servicesCpu() };
      }
      if (entry.msg === 'committed') {
        committedRecords += entry.records;
        if (committedRecords >= total && doneAt === undefined) doneAt = entry.time;
      }
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise((r) => child.on('exit', (code) => r(code)));
  const deadline = spawnedAt + 30 * 60_000;
  while (doneAt === undefined) {
    if (child.exitCode !== null) throw new Error(`consumer exited early (${child.exitCode}):\n${logs.slice(-20).join('\n')}`);
    if (Date.now() > deadline) throw new Error('consumer did not finish in 30 minutes');
    await sleep(50);
    if (idleMs && assignedAt && Date.now() >= assignedAt + idleMs) doneAt = Date.now();
  }
  const cpu = cpuSeconds(child.pid);
  // The main thread is the pipeline (Kafka, decode, commits, export); the engine computes on other threads.
  const mainCpu = cpuSeconds(child.pid, child.pid);
  const servicesUsed = servicesCpu() - (atAssigned?.services ?? servicesBefore);
  child.kill('SIGTERM');
  const code = await exited;
  if (code !== 0) throw new Error(`consumer exit code ${code}`);
  // Whole run (echo rates per CPU-second) and the timed window alone (the real engine's overhead).
  const window = { cpu: cpu - atAssigned.cpu, mainCpu: mainCpu - atAssigned.mainCpu };
  return { spawnedAt, assignedAt, doneAt, cpu, mainCpu, services: servicesUsed, window };
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
const LLM_REPS = Number(flag('--reps') ?? 3);
const IDLE_SECONDS = 20;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Every variant once per round, rounds in turn, so load from other jobs spreads over all of them. */
async function benchEcho(kafka, admin, bucket) {
  const runs = ECHO_VARIANTS.map(() => []);
  for (let round = 0; round < ECHO_ROUNDS; round++) {
    for (const [i, v] of ECHO_VARIANTS.entries()) {
      const t = await freshTopics(admin, 'echo');
      await produceJobs(kafka, t.jobs, echoJobs(ECHO_JOBS, t.group));
      const r = await runConsumer(bucket, t, ECHO_JOBS, v.flags);
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

/** The baseline: the same jobs through AsyncEngine alone, in a child on the worker's cores (engine-alone.mjs). */
async function engineAlone(model, jobs, maxNumSeqs, cpus, env) {
  const file = join(tmpdir(), `sluice-bench-alone-${process.pid}.json`);
  writeFileSync(file, JSON.stringify({ model, maxNumSeqs, jobs }));
  const child = spawnNode(join(root, 'bench', 'pipeline', 'engine-alone.mjs'), [file], cpus, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const code = await new Promise((r) => child.on('exit', r));
  rmSync(file, { force: true });
  if (code !== 0) throw new Error(`engine-alone exited with ${code}`);
  return JSON.parse(out.trim().split('\n').at(-1));
}

/**
 * How the llm part lays out the cores (Linux, 2 or more): the engine's side, the worker or the engine alone, on
 * all cores but the last with one kernel thread each; the broker, S3Proxy and this script on the last, as if Kafka
 * and S3 were elsewhere. Without taskset everything shares every core.
 */
function coreLayout() {
  const n = CORES;
  let taskset = false;
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    taskset = n >= 2;
  } catch {
    // no taskset: shared cores
  }
  if (!taskset) return { engineCpus: undefined, serviceCpus: undefined, threads: n, label: `not pinned: the broker, S3Proxy and the engine share all ${n} cores` };
  const engineCpus = n === 2 ? '0' : `0-${n - 2}`;
  const serviceCpus = String(n - 1);
  return { engineCpus, serviceCpus, threads: n - 1, label: `pinned with taskset: the worker (or the engine alone) on CPU ${engineCpus} with ${n - 1} kernel thread${n > 2 ? 's' : ''} (SLUICE_CPU_THREADS), the broker, S3Proxy and the harness on CPU ${serviceCpus}` };
}

async function benchLlm(kafka, admin, bucket) {
  const name = existsSync(join(modelsDir, 'bench-llama-100m', 'config.json')) ? 'bench-llama-100m' : 'tiny-llama';
  const model = join(modelsDir, name);
  const maxNumSeqs = 16;
  const layout = coreLayout();
  if (layout.serviceCpus) for (const pid of [...servicePids, process.pid]) pin(pid, layout.serviceCpus);
  const env = { SLUICE_CPU_THREADS: String(layout.threads) };
  // A small batch shows the fixed cost per batch (first fetch, last commit interval, export); a larger one how it amortizes.
  const sizes = sizesFlag ?? (name === 'tiny-llama' ? [{ n: 64, maxTokens: 256 }] : quick ? [{ n: 16, maxTokens: 16 }] : [{ n: 16, maxTokens: 16 }, { n: 64, maxTokens: 32 }, { n: 128, maxTokens: 64 }]);
  // A fresh broker creates its transaction log on the first transactional producer and makes it wait; an unmeasured
  // echo run first, so no measured run pays what a running cluster has long done.
  const warm = await freshTopics(admin, 'warm-up');
  await produceJobs(kafka, warm.jobs, echoJobs(PARTITIONS, warm.group));
  await runConsumer(bucket, warm, PARTITIONS, []);
  // The worker's fixed cost: its main thread with nothing to do (fetch long-polls, heartbeats, timers), on the engine's cores.
  const idle = await runConsumer(bucket, await freshTopics(admin, 'idle'), 0, [], { env, cpus: layout.engineCpus, idleMs: IDLE_SECONDS * 1000 });
  const idleMainShare = idle.window.mainCpu / ((idle.doneAt - idle.assignedAt) / 1000);
  console.log(`idle worker: main thread ${formatNumber(idle.window.mainCpu)} CPU-s in ${IDLE_SECONDS} s`);
  const reps = quick ? 1 : LLM_REPS;
  const rows = [];
  for (const { n, maxTokens } of sizes) {
    // Alternated and repeated: other jobs on the machine come and go, so each side is summarised by its median.
    const runs = { alone: [], pipeline: [] };
    for (let rep = 0; rep < reps; rep++) {
      runs.alone.push(await engineAlone(model, llmJobs(n, 'alone', maxTokens), maxNumSeqs, layout.engineCpus, env));
      const t = await freshTopics(admin, 'llm');
      await produceJobs(kafka, t.jobs, llmJobs(n, t.group, maxTokens));
      const r = await runConsumer(bucket, t, n, ['--engine', 'llm', '--model', model, '--max-num-seqs', String(maxNumSeqs)], { env, cpus: layout.engineCpus });
      // From the worker holding its partitions (model loaded, group joined) to the last job committed.
      runs.pipeline.push({ ...r, seconds: (r.doneAt - r.assignedAt) / 1000 });
      console.log(`llm ${name} ${n} x ${maxTokens}: engine alone ${formatNumber(runs.alone.at(-1).seconds)} s, through the pipeline ${formatNumber(runs.pipeline.at(-1).seconds)} s; CPU-s: alone ${formatNumber(runs.alone.at(-1).cpu)}, worker ${formatNumber(r.window.cpu)} of which main thread ${formatNumber(r.window.mainCpu)}, services ${formatNumber(r.services)} (load ${formatNumber(loadavg()[0])})`);
    }
    const alone = median(runs.alone.map((r) => r.seconds));
    const pipeline = median(runs.pipeline.map((r) => r.seconds));
    const mid = runs.pipeline.find((r) => r.seconds === pipeline);
    const w = mid.window;
    rows.push({
      model: name, jobs: n, maxTokens, runs: reps, alone, pipeline, overhead: (pipeline - alone) / pipeline,
      // Each run's pair shares the machine's state of the moment: the median of their overheads cancels slow drift.
      pairOverhead: median(runs.alone.map((a, i) => (runs.pipeline[i].seconds - a.seconds) / runs.pipeline[i].seconds)),
      aloneCpu: median(runs.alone.map((r) => r.cpu)), engineCpu: w.cpu - w.mainCpu, mainCpu: w.mainCpu, cpuShare: w.mainCpu / w.cpu, services: mid.services,
      startup: (mid.assignedAt - mid.spawnedAt) / 1000, pairs: runs.alone.map((a, i) => [a.seconds, runs.pipeline[i].seconds]),
    });
  }
  return { layout: layout.label, idleMainShare, idleMainCpu: idle.window.mainCpu, rows };
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
  let llm = { rows: [] };
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
    `Load: the ${CORES} logical cores are shared by the broker, S3Proxy, the consumer, this script and other jobs on the machine (load average ${formatNumber(loadStart)} at start, ${formatNumber(loadEnd)} at end), so wall-clock figures are lower bounds and move with the load; CPU-second figures are less sensitive to it.`,
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
  if (llm.rows.length) {
    const lines = header(loadStart, loadEnd);
    const rows = llm.rows;
    const pct = (x) => `${formatNumber(x * 100)}%`;
    const met = rows.filter((r) => r.overhead < 0.05 && r.pairOverhead < 0.05);
    lines.push(
      `Cores: ${llm.layout}. The same jobs (greedy, \`ignore_eos\`, so each generates exactly max_tokens) through the engine alone (bench/pipeline/engine-alone.mjs: AsyncEngine in a process of its own, every job added at once) and through Kafka -> sluice-consumer --engine llm -> Kafka + S3 (exactly-once with the S3 export, default flags: 500 ms commit interval), maxNumSeqs 16 on the CPU backend, both on the same cores with the same kernel threads. Engine-alone time runs from the model loaded to the last job done; pipeline time from the worker holding its partitions (model loaded, group joined) to the commit of the last job, both ends read from the worker's own log lines, so nothing polls the broker meanwhile. An unmeasured echo run first has the fresh broker create its transaction log. Each size runs ${rows[0].runs} times, engine alone and pipeline alternated; the table shows the medians, overhead = (pipeline - engine alone) / pipeline of the medians, and next to it the median of each run's own overhead (the engine alone and the pipeline run back to back), which cancels the machine's slow drift between runs. The CPU columns cover the timed window of the median pipeline run: the worker's main thread is the pipeline's own work (Kafka, decode, commits, export), the rest of the process is the engine and the runtime's helper threads; broker + S3 is what the local Kafka and S3Proxy used meanwhile on their own core. Startup (process start to partitions assigned, mostly the model load) is shown apart.`,
      '',
      markdownTable(
        ['model', 'jobs', 'max_tokens', 'runs', 'engine alone s', 'pipeline s', 'wall-clock overhead', 'median of run overheads', 'engine alone CPU-s', 'worker CPU-s', 'of which main thread', 'main thread share', 'broker + S3 CPU-s', 'startup s'],
        rows.map((r) => [r.model, r.jobs, r.maxTokens, r.runs, r.alone, r.pipeline, pct(r.overhead), pct(r.pairOverhead), r.aloneCpu, r.engineCpu + r.mainCpu, r.mainCpu, pct(r.cpuShare), r.services, r.startup]),
      ),
      '',
      `Every run (engine alone s / pipeline s): ${rows.map((r) => `${r.jobs} x ${r.maxTokens}: ${r.pairs.map(([a, p]) => `${formatNumber(a)} / ${formatNumber(p)}`).join(', ')}`).join('; ')}.`,
      '',
      `Idle worker (echo engine, empty topics, ${IDLE_SECONDS} s on the same cores): its main thread used ${formatNumber(llm.idleMainCpu)} CPU-s, ${pct(llm.idleMainShare)} of one core: the fixed cost of fetch long-polls, heartbeats and timers, paid whatever the engine does.`,
      '',
      `Target (issue 5): pipeline overhead < 5% of end-to-end time. ${rows.map((r) => `${r.jobs} jobs x ${r.maxTokens} tokens: ${pct(r.overhead)} (run median ${pct(r.pairOverhead)})`).join('; ')}: ${met.length === rows.length ? 'under 5% in every case' : met.length === 0 ? 'not under 5% in any case' : `under 5% by both measures for ${met.map((r) => `${r.jobs} x ${r.maxTokens}`).join(' and ')}, not for ${rows.filter((r) => !met.includes(r)).map((r) => `${r.jobs} x ${r.maxTokens}`).join(' and ')}`}. The engine's own time moves between runs of the same jobs (see every run above), so a single pair can land either side of a few percent; the medians are what the target is read from.`,
      '',
    );
    upsertSection(docs, 'Pipeline: overhead around the real engine on CPU', lines.join('\n'));
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
