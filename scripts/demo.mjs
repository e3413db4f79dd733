#!/usr/bin/env node
// `npm run demo`: the main job end to end on embedded defaults. It starts a real local Kafka and S3, produces the
// sample dataset with `sluice produce`, serves it with `sluice-consumer` on the tiny generated model until
// `sluice status` says the batch is done, collects it in input order with `sluice collect`, and stops what it started.
import { execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const dataset = join(root, 'scripts', 'demo', 'prompts.jsonl');
const model = join(process.env.SLUICE_MODELS_DIR ?? join(root, '.cache', 'models'), 'tiny-llama');
const outDir = join(root, 'out', 'demo');
const SLUICE = join(root, 'apps', 'producer-cli', 'dist', 'main.js');
const CONSUMER = join(root, 'apps', 'consumer', 'dist', 'main.js');
const BUCKET = 'sluice-demo';
// Node 20 is supported; the AWS SDK's notice about its future Node 22 floor would only clutter the demo's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

function fail(message) {
  console.error(`demo: ${message}`);
  process.exit(1);
}

function port(name, fallback) {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 65535) fail(`${name}="${raw}" is not a port number (1-65535).`);
  return value;
}

// Ports of their own, so a broker or S3 server you already run on the defaults is never touched.
const ports = {
  kafkaPort: port('SLUICE_DEMO_KAFKA_PORT', 9192),
  kafkaControllerPort: port('SLUICE_DEMO_KAFKA_CONTROLLER_PORT', 9193),
  s3Port: port('SLUICE_DEMO_S3_PORT', 9100),
};

function build() {
  console.log('demo: building the workspace (cached after the first run)');
  try {
    execFileSync('npx', ['nx', 'run-many', '-t', 'build', '-p', '@sluice/infra', '@sluice/producer-cli', '@sluice/consumer', '--outputStyle=static'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  } catch {
    fail('the build failed; run `npm run build` to see why.');
  }
}

/** Runs `sluice ARGS` and returns its stdout; a failure ends the demo with what it printed. */
function sluice(args, env) {
  try {
    return execFileSync(process.execPath, [SLUICE, ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    fail(`sluice ${args[0]} failed (exit ${err.status}): ${(err.stderr || err.message).trim()}`);
  }
}

function startConsumer(env) {
  const child = spawn(process.execPath, [CONSUMER], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, stderr: () => stderr };
}

async function waitForBatch(batchId, env, worker) {
  let last = '';
  for (;;) {
    const status = JSON.parse(sluice(['status', batchId, '--json'], env));
    const line = `done ${status.done}/${status.jobs}, failed ${status.failed}, dead-lettered ${status.dead_lettered}`;
    if (line !== last) console.log(`demo: ${line}`);
    last = line;
    if (status.pending === 0) return status;
    const code = await Promise.race([worker.exited, new Promise((r) => setTimeout(() => r(undefined), 1000))]);
    if (code !== undefined) fail(`sluice-consumer exited ${code} before the batch was done:\n${worker.stderr()}`);
  }
}

async function createBucket(s3Config) {
  const { S3Client, CreateBucketCommand } = require('@aws-sdk/client-s3');
  const s3 = new S3Client(s3Config);
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET })).catch((err) => {
    if (err.name !== 'BucketAlreadyOwnedByYou' && err.name !== 'BucketAlreadyExists') throw err;
  });
  s3.destroy();
}

async function main() {
  build();
  const { startLocalServices } = require('./infra/dist/index.js');
  console.log(`demo: starting local Kafka (127.0.0.1:${ports.kafkaPort}) and S3 (127.0.0.1:${ports.s3Port})`);
  const services = await startLocalServices({ ...ports, dataDir: join(root, '.cache', 'demo-services') });
  let worker;
  try {
    await createBucket(services.s3);
    const env = {
      ...process.env,
      SLUICE_KAFKA_BROKERS: services.brokers.join(','),
      SLUICE_S3_ENDPOINT: services.s3.endpoint,
      SLUICE_S3_FORCE_PATH_STYLE: 'true',
      AWS_REGION: services.s3.region,
      AWS_ACCESS_KEY_ID: services.s3.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: services.s3.credentials.secretAccessKey,
    };
    const produced = JSON.parse(sluice(['produce', dataset, '--create-topics', '--partitions', '3', '--no-progress', '--json'], env));
    console.log(`demo: sluice produce wrote ${produced.jobs} jobs of batch ${produced.batch_id} from ${dataset}`);

    console.log(`demo: sluice-consumer serving ${model} (CPU)`);
    const started = Date.now();
    worker = startConsumer({ ...env, SLUICE_ENGINE: 'llm', SLUICE_MODEL: model, SLUICE_GROUP_ID: 'sluice-demo', SLUICE_S3_BUCKET: BUCKET, SLUICE_METRICS_PORT: '0', SLUICE_LOG_LEVEL: 'warn' });
    const status = await waitForBatch(produced.batch_id, env, worker);
    const seconds = (Date.now() - started) / 1000;
    worker.child.kill('SIGTERM');
    const code = await worker.exited;
    if (code !== 0) fail(`sluice-consumer exited ${code} on SIGTERM:\n${worker.stderr()}`);

    mkdirSync(outDir, { recursive: true });
    const local = join(outDir, `${produced.batch_id}.jsonl`);
    sluice(['collect', produced.batch_id, '-o', local], env);
    const completions = readFileSync(local, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const tokens = completions.reduce((s, c) => s + c.usage.completion_tokens, 0);
    console.log('demo: summary');
    console.log(`  jobs: ${status.jobs} produced, ${status.done} done, ${status.failed} failed, ${status.dead_lettered} dead-lettered`);
    console.log(`  tokens: ${tokens} generated in ${seconds.toFixed(1)} s (${(tokens / seconds).toFixed(0)} tokens/s, model start-up included)`);
    console.log(`  first completion: ${JSON.stringify(completions[0].outputs[0].text)}`);
    console.log(`  in S3: s3://${BUCKET}/completions/batch_id=${produced.batch_id}/ (endpoint ${services.s3.endpoint})`);
    console.log(`  locally, in input order: ${local}`);
  } finally {
    if (worker && worker.child.exitCode === null) {
      worker.child.kill('SIGKILL');
      await worker.exited;
    }
    await services.stop();
    console.log('demo: stopped the local services it started');
  }
}

main().catch((err) => fail(err instanceof Error ? err.message : String(err)));
