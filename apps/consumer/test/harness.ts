import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { localS3Config, suiteConfig, type LocalConfig } from '@sluice/infra';
import { CompletionSchemas, DeadLetterSchemas, RecordCodec, type Completion, type DeadLetter } from '@sluice/schema';
import { Kafka, logLevel, Partitioners, type Admin } from 'kafkajs';

/** The consumer suite's own services: never the defaults, the e2e suite's (19xxx) or infra's (29xxx). */
export function testSettings(env: NodeJS.ProcessEnv = process.env): LocalConfig {
  return suiteConfig('SLUICE_CONSUMER_TEST', { kafkaPort: 39092, kafkaControllerPort: 39093, s3Port: 39000, dataDirName: 'sluice-consumer-test' }, env);
}

/** A tiny generated checkpoint (npm run setup -w @sluice/engine writes them); a missing one fails loudly. */
export function tinyModel(name = 'tiny-llama'): string {
  const dir = join(process.env.SLUICE_MODELS_DIR ?? join(__dirname, '..', '..', '..', '.cache', 'models'), name);
  if (!existsSync(join(dir, 'config.json'))) throw new Error(`${dir} is missing: run \`npm run setup -w @sluice/engine\` to generate the tiny models`);
  return dir;
}

export const settings = testSettings();
export const brokers = [`127.0.0.1:${settings.kafkaPort}`];
export const s3Config = localS3Config(settings.s3Port);
export const kafka = new Kafka({ clientId: 'consumer-test', brokers, logLevel: logLevel.NOTHING });
export const s3 = new S3Client(s3Config);

export interface JobInput {
  job_id: string;
  batch_id: string;
  prompt?: string;
  sampling?: Record<string, unknown>;
  metadata?: Record<string, string>;
}

export function jobs(batch: string, n: number, start = 0): JobInput[] {
  return Array.from({ length: n }, (_, i) => ({ job_id: `${batch}-job-${start + i}`, batch_id: batch, prompt: `prompt number ${start + i}`, metadata: { seq: String(start + i) } }));
}

export async function createTopics(admin: Admin, topics: string[], partitions: number): Promise<void> {
  await admin.createTopics({ topics: topics.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })), waitForLeaders: true });
}

/** Produces raw values (JSON jobs or arbitrary bytes) keyed round-robin over partitions. */
export async function produce(topic: string, values: Array<{ key: string; value: Buffer | string }>, partitions: number): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    for (let i = 0; i < values.length; i += 200) {
      const messages = values.slice(i, i + 200).map((v, j) => ({ key: v.key, value: v.value, partition: (i + j) % partitions }));
      await producer.send({ topic, acks: -1, messages });
    }
  } finally {
    await producer.disconnect();
  }
}

const completionCodec = new RecordCodec(CompletionSchemas);
const deadLetterCodec = new RecordCodec(DeadLetterSchemas);
/** The worker writes results and dead letters as single-object Avro (no registry in these suites). */
export const decodeCompletion = (value: Buffer): Promise<Completion> => completionCodec.decode(value);
export const decodeDeadLetter = (value: Buffer): Promise<DeadLetter> => deadLetterCodec.decode(value);

export const asJson = (js: JobInput[]) => js.map((j) => ({ key: j.job_id, value: JSON.stringify({ ...j, created_at: Date.now() }) }));

/** Everything a read_committed reader sees on a topic now (from the beginning to the current end). */
export async function readCommitted(admin: Admin, topic: string): Promise<Array<{ key: string; value: Buffer; partition: number }>> {
  const ends = await admin.fetchTopicOffsets(topic);
  // With read_committed the last stable offset bounds what can be read; the high watermark may sit past markers.
  const remaining = new Map(ends.filter((p) => Number(p.high) > Number(p.low)).map((p) => [p.partition, BigInt(p.high)]));
  const out: Array<{ key: string; value: Buffer; partition: number }> = [];
  if (remaining.size === 0) return out;
  const consumer = kafka.consumer({ groupId: `reader-${Math.random().toString(36).slice(2)}`, readUncommitted: false, maxWaitTimeInMs: 100 });
  // A fetch holding only a transaction marker (after a batch near the fetch size) calls no eachBatch, but ends a batch.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    const end = remaining.get(payload.partition);
    if (end !== undefined && BigInt(payload.lastOffset) + 1n >= end) remaining.delete(payload.partition);
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const deadline = Date.now() + 60_000;
  await new Promise<void>((resolve, reject) => {
    const check = setInterval(() => {
      if (remaining.size === 0 || Date.now() > deadline) {
        clearInterval(check);
        resolve();
      }
    }, 50);
    consumer
      .run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) out.push({ key: m.key?.toString() ?? '', value: m.value ?? Buffer.alloc(0), partition: batch.partition });
          const end = remaining.get(batch.partition);
          if (end !== undefined && BigInt(batch.lastOffset()) + 1n >= end) remaining.delete(batch.partition);
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  if (remaining.size > 0) throw new Error(`reading ${topic}: partitions ${[...remaining.keys()]} did not reach their end in 60 s`);
  return out;
}

/** Waits until the group has committed every partition of the topic up to its end. */
export async function waitForCaughtUp(admin: Admin, groupId: string, topic: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ends = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const at = new Map(committed.partitions.map((p) => [p.partition, BigInt(p.offset)]));
    if (ends.every((p) => (at.get(p.partition) ?? -1n) >= BigInt(p.high))) return;
    if (Date.now() > deadline) throw new Error(`group ${groupId} did not catch up on ${topic}: committed ${JSON.stringify(committed.partitions)}, ends ${JSON.stringify(ends)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function committedTotal(admin: Admin, groupId: string, topic: string): Promise<number> {
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return committed.partitions.reduce((s, p) => s + Math.max(0, Number(p.offset)), 0);
}

export interface RunningConsumer {
  child: ChildProcess;
  logs: string[];
  exited: Promise<number | null>;
}

const BIN = join(__dirname, '..', 'dist', 'main.js');

/** Runs the built `sluice-consumer` bin as a user would, against the suite's Kafka and S3. */
export function startConsumer(args: string[], env: Record<string, string> = {}): RunningConsumer {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      SLUICE_KAFKA_BROKERS: brokers.join(','),
      SLUICE_METRICS_PORT: '0',
      SLUICE_LOG_LEVEL: 'info',
      AWS_ACCESS_KEY_ID: s3Config.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3Config.credentials.secretAccessKey,
      AWS_REGION: s3Config.region,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  let buf = '';
  const onData = (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    logs.push(...lines);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, logs, exited };
}

/** The port of /metrics, /healthz and /readyz, from the bin's startup log line. */
export async function metricsPort(c: RunningConsumer): Promise<number> {
  let port: number | undefined;
  await waitFor('the startup log line', () => {
    const line = c.logs.find((l) => l.includes('"msg":"sluice-consumer starting"'));
    port = line ? (JSON.parse(line) as { metrics_port: number }).metrics_port : undefined;
    return port !== undefined;
  });
  return port!;
}

/** One sample of a Prometheus text exposition, e.g. sample(text, 'sluice_partition_lag{topic="t",partition="0"}'). */
export function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

export async function waitFor(what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function getObject(bucket: string, key: string): Promise<Buffer> {
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await r.Body!.transformToByteArray());
}

export async function listKeys(bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    keys.push(...(r.Contents ?? []).map((o) => o.Key ?? ''));
    token = r.NextContinuationToken;
  } while (token);
  return keys;
}

export function s3Env(bucket: string, prefix: string): Record<string, string> {
  return { SLUICE_S3_BUCKET: bucket, SLUICE_S3_ENDPOINT: s3Config.endpoint, SLUICE_S3_FORCE_PATH_STYLE: 'true', SLUICE_EXPORT_PREFIX: prefix };
}

/**
 * Per-suite resources: an admin client connected for the suite's tests and a fresh bucket. Call it inside a
 * describe; it registers the hooks that open and close them.
 */
export function suiteFixture(bucketPrefix: string): { readonly admin: Admin; readonly bucket: string } {
  const bucket = `${bucketPrefix}-${randomUUID().slice(0, 8)}`;
  let admin: Admin | undefined;
  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  afterAll(() => admin?.disconnect());
  return {
    bucket,
    get admin(): Admin {
      if (!admin) throw new Error('suiteFixture: the admin client is used before beforeAll ran');
      return admin;
    },
  };
}
