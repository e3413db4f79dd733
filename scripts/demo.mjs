#!/usr/bin/env node
// `npm run demo`: the main job end to end on embedded defaults, against real local services.
// It runs the stages that exist today and says plainly which pipeline stages are not built yet.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const datasetPath = join(root, 'scripts', 'demo', 'prompts.jsonl');
const outDir = join(root, 'out', 'demo');

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
    execFileSync('npx', ['nx', 'run-many', '-t', 'build', '-p', '@sluice/infra', '--outputStyle=static'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  } catch {
    fail('the build failed; run `npm run build` to see why.');
  }
}

function readDataset() {
  return readFileSync(datasetPath, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      try {
        return JSON.parse(line);
      } catch (err) {
        fail(`${datasetPath}:${i + 1} is not JSON: ${err.message}`);
      }
    });
}

async function produceJobs(kafka, topic, batchId, rows) {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  const messages = rows.map((row) => {
    const job = { ...row, job_id: row.custom_id, batch_id: batchId };
    return { key: job.job_id, value: JSON.stringify(job) };
  });
  await producer.send({ topic, messages });
  await producer.disconnect();
  return messages.length;
}

async function readBack(kafka, topic, expected) {
  const consumer = kafka.consumer({ groupId: `${topic}-reader` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const jobs = [];
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`read ${jobs.length} of ${expected} jobs back within 60 s`)), 60_000);
    consumer
      .run({
        eachMessage: async ({ partition, message }) => {
          jobs.push({ partition, offset: message.offset, job: JSON.parse(message.value.toString()) });
          if (jobs.length === expected) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return jobs;
}

async function exportToS3(s3Config, batchId, jobs) {
  const { S3Client, CreateBucketCommand, PutObjectCommand } = require('@aws-sdk/client-s3');
  const s3 = new S3Client(s3Config);
  const bucket = 'sluice-demo';
  await s3.send(new CreateBucketCommand({ Bucket: bucket })).catch((err) => {
    if (err.name !== 'BucketAlreadyOwnedByYou' && err.name !== 'BucketAlreadyExists') throw err;
  });
  const key = `jobs/batch_id=${batchId}/received.jsonl`;
  const body = jobs.map((j) => JSON.stringify(j)).join('\n') + '\n';
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  s3.destroy();
  return `s3://${bucket}/${key}`;
}

async function main() {
  build();
  const { startLocalServices } = require('./infra/dist/index.js');
  const { Kafka, logLevel } = require('kafkajs');
  const rows = readDataset();
  const batchId = `demo-${new Date().toISOString().replace(/[:.]/g, '-')}`;

  console.log(`demo: starting local Kafka (127.0.0.1:${ports.kafkaPort}) and S3 (127.0.0.1:${ports.s3Port})`);
  const services = await startLocalServices({ ...ports, dataDir: join(root, '.cache', 'demo-services') });
  try {
    const kafka = new Kafka({ clientId: 'sluice-demo', brokers: services.brokers, logLevel: logLevel.NOTHING });
    const topic = 'sluice.jobs';
    const sent = await produceJobs(kafka, topic, batchId, rows);
    console.log(`demo: produced ${sent} jobs of batch ${batchId} from ${datasetPath} to topic ${topic}`);
    const jobs = await readBack(kafka, topic, sent);
    const partitions = new Set(jobs.map((j) => j.partition)).size;
    console.log(`demo: read all ${jobs.length} jobs back through a consumer group, spread over ${partitions} partitions`);
    const s3Url = await exportToS3(services.s3, batchId, jobs);
    mkdirSync(outDir, { recursive: true });
    const localPath = join(outDir, `${batchId}.jsonl`);
    writeFileSync(localPath, jobs.map((j) => JSON.stringify(j)).join('\n') + '\n');
    console.log('demo: summary');
    console.log(`  jobs: ${jobs.length} produced, ${jobs.length} delivered`);
    console.log(`  in S3: ${s3Url} (endpoint ${services.s3.endpoint})`);
    console.log(`  locally: ${localPath}`);
    console.log('  not yet built: the consumer service and the engine; this run shows the transport only.');
  } finally {
    await services.stop();
    console.log('demo: stopped the local services it started');
  }
}

main().catch((err) => fail(err instanceof Error ? err.message : String(err)));
