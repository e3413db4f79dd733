// This suite's own Kafka and S3 (ports 49092/49093/49000, SLUICE_CLI_TEST_* to change), apart from every other suite.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localS3Config, suiteConfig, type LocalConfig } from '@sluice/infra';
import { HEADERS, METADATA_SEQ, RecordCodec, type Completion, type DeadLetter, type SchemaFamily } from '@sluice/schema';
import { Kafka, logLevel } from 'kafkajs';
import { readTopicToEnd } from '../src/kafka/read-topic';
import { resolveKafkaSettings, type KafkaSettings } from '../src/kafka/settings';
import { ensureTopics } from '../src/kafka/topics';
import { METADATA_KIND } from '../src/produce/row-to-job';

export function testSettings(env: NodeJS.ProcessEnv = process.env): LocalConfig {
  return suiteConfig('SLUICE_CLI_TEST', { kafkaPort: 49092, kafkaControllerPort: 49093, s3Port: 49000, dataDirName: 'sluice-producer-cli-test' }, env);
}

export function brokers(): string {
  return `127.0.0.1:${testSettings().kafkaPort}`;
}

export function s3(): ReturnType<typeof localS3Config> {
  return localS3Config(testSettings().s3Port);
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

const MAIN = join(__dirname, '..', 'dist', 'main.js');

/** Runs the built `sluice` binary as a user would, against this suite's broker unless told otherwise. */
export function sluice(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { env: { ...process.env, SLUICE_KAFKA_BROKERS: brokers(), ...env }, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A fresh set of topic names, as the environment every command of one test runs with. */
export function freshTopics(tag: string): { topics: KafkaSettings['topics']; env: NodeJS.ProcessEnv } {
  const id = `${tag}-${randomUUID().slice(0, 8)}`;
  const topics = { jobs: `jobs-${id}`, results: `results-${id}`, dlq: `dlq-${id}`, batches: `batches-${id}` };
  return { topics, env: { SLUICE_JOBS_TOPIC: topics.jobs, SLUICE_RESULTS_TOPIC: topics.results, SLUICE_DLQ_TOPIC: topics.dlq, SLUICE_BATCHES_TOPIC: topics.batches } };
}

export function settingsFor(topics: KafkaSettings['topics']): KafkaSettings {
  return resolveKafkaSettings({ brokers: brokers(), jobsTopic: topics.jobs, resultsTopic: topics.results, dlqTopic: topics.dlq, batchesTopic: topics.batches }, {});
}

export const kafka = new Kafka({ clientId: 'producer-cli-test', brokers: [brokers()], logLevel: logLevel.NOTHING });

/** Every committed record of `topic`, decoded with `family`'s codec (as a read_committed consumer sees them). */
export async function readRecords<T>(topic: string, family: SchemaFamily<T>): Promise<Array<{ partition: number; key: string; headers: Record<string, string>; value: T }>> {
  const codec = new RecordCodec(family);
  const out: Array<{ partition: number; key: string; headers: Record<string, string>; value: T }> = [];
  await readTopicToEnd(kafka, topic, async ({ partition, message }) => {
    const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
    out.push({ partition, key: message.key?.toString() ?? '', headers, value: await codec.decode(message.value as Buffer) });
  }, { timeoutMs: 60_000 });
  return out;
}

/** Creates the four topics the way the consumer finds them: jobs/results with `partitions`, DLQ and batches with one. */
export async function createTopics(topics: KafkaSettings['topics'], partitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, settingsFor(topics), { partitions, replicationFactor: 1 });
  } finally {
    await admin.disconnect();
  }
}

let transactions = 0;

/** Writes records in one transaction, as a consumer worker does; `commit: false` aborts it (read_committed never sees them). */
export async function writeTransaction<T>(topic: string, family: SchemaFamily<T>, records: Array<{ key: string; value: T; partition?: number }>, commit = true): Promise<void> {
  const codec = new RecordCodec(family);
  transactions += 1;
  const producer = kafka.producer({ transactionalId: `producer-cli-test-${process.pid}-${transactions}`, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const tx = await producer.transaction();
    const messages = await Promise.all(records.map(async (r) => ({ key: r.key, value: await codec.encode(r.value), partition: r.partition })));
    await tx.send({ topic, messages });
    await (commit ? tx.commit() : tx.abort());
  } finally {
    await producer.disconnect();
  }
}

/** A completion as a consumer worker writes it; `error` makes it a failed one. */
export function completion(jobId: string, batchId: string, seq: number | undefined, error?: string, kind: 'text' | 'chat' = 'text'): Completion {
  // Workers copy the job's metadata, where produce put its input position and kind.
  const metadata: Record<string, string> = { [METADATA_KIND]: kind, ...(seq === undefined ? {} : { [METADATA_SEQ]: String(seq) }) };
  return {
    job_id: jobId,
    batch_id: batchId,
    outputs: error ? [] : [{ index: 0, text: `answer ${jobId}`, token_ids: null, finish_reason: 'stop', stop_reason: null, cumulative_logprob: null, logprobs: null }],
    usage: { prompt_tokens: 3, completion_tokens: error ? 0 : 2 },
    timings: { queued_ms: 1, first_token_ms: error ? null : 2, total_ms: 3 },
    model: 'tiny',
    worker_id: 'test-worker',
    metadata,
    error: error ? { code: error, message: `failed with ${error}` } : null,
    completed_at: 1_700_000_000_000,
  };
}

/** A dead letter as a worker writes it: the original headers copied, `seq` among them as produce set it. */
export function deadLetter(jobId: string, batchId: string, offset: number, seq?: number): DeadLetter {
  return {
    key: Buffer.from(jobId),
    value: Buffer.from('not a job'),
    headers: seq === undefined ? {} : { [HEADERS.seq]: Buffer.from(String(seq)) },
    source_topic: 'jobs',
    source_partition: 0,
    source_offset: offset,
    error_code: 'UNDECODABLE',
    error_message: 'test dead letter',
    job_id: jobId,
    batch_id: batchId,
    worker_id: 'test-worker',
    failed_at: 1_700_000_000_000,
  };
}

export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `sluice-cli-${tag}-`));
}

export function writeText(dir: string, name: string, text: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

export function jsonl(rows: unknown[]): string {
  return rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
}
