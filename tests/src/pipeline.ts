// One isolated pipeline per test: its own topics, consumer group, bucket and prefix on the run's Kafka and S3.
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { BatchStatus, CollectSummary, ProduceSummary } from '@sluice/producer-cli';
import { CompletionSchemas, DeadLetterSchemas, RecordCodec, exportManifestKey, type Completion, type DeadLetter, type ExportManifest } from '@sluice/schema';
import { runSluice, sluice, until, Worker } from './apps';
import { e2eEndpoints } from './harness';
import { readCommitted } from './topic-reader';

/** The model every e2e worker serves: the tiny Llama the setup generates. */
export const TINY_MODEL = join(process.env.SLUICE_MODELS_DIR ?? join(__dirname, '..', '..', '.cache', 'models'), 'tiny-llama');

/** What `sluice status --json` prints (the manifest itself is left out). */
export type BatchCounts = Omit<BatchStatus, 'manifest'>;

export class Pipeline {
  readonly id = randomUUID().slice(0, 8);
  readonly dir = mkdtempSync(join(tmpdir(), `sluice-e2e-${this.id}-`));
  readonly topics = { jobs: `e2e.${this.id}.jobs`, results: `e2e.${this.id}.results`, dlq: `e2e.${this.id}.dlq`, batches: `e2e.${this.id}.batches` };
  readonly group = `e2e-${this.id}`;
  readonly bucket = `e2e-${this.id}`;
  readonly prefix = 'completions';
  private readonly endpoints = e2eEndpoints();
  private readonly s3 = new S3Client(this.endpoints.s3);
  private readonly workers: Worker[] = [];

  /** What both apps read from the environment: brokers, topic names, and the S3 endpoint and credentials. */
  get env(): Record<string, string> {
    const s3 = this.endpoints.s3;
    return {
      SLUICE_KAFKA_BROKERS: this.endpoints.brokers.join(','),
      SLUICE_JOBS_TOPIC: this.topics.jobs,
      SLUICE_RESULTS_TOPIC: this.topics.results,
      SLUICE_DLQ_TOPIC: this.topics.dlq,
      SLUICE_BATCHES_TOPIC: this.topics.batches,
      SLUICE_S3_ENDPOINT: s3.endpoint,
      SLUICE_S3_FORCE_PATH_STYLE: 'true',
      AWS_REGION: s3.region,
      AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      // Node 20 is supported; the SDK's notice about its future Node 22 floor is noise in test output.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
  }

  async createBucket(): Promise<void> {
    await this.s3.send(new CreateBucketCommand({ Bucket: this.bucket }));
  }

  /** `sluice produce FILE --create-topics`, returning its JSON summary. */
  async produce(file: string, args: string[] = []): Promise<ProduceSummary> {
    const out = await sluice(['produce', file, '--create-topics', '--partitions', '3', '--no-progress', '--json', ...args], this.env);
    return JSON.parse(out) as ProduceSummary;
  }

  /** Starts one `sluice-consumer` in this pipeline's group, on the tiny model, exporting to this pipeline's bucket. */
  startWorker(name: string, env: Record<string, string> = {}): Worker {
    const worker = new Worker([], {
      ...this.env,
      SLUICE_GROUP_ID: this.group,
      SLUICE_WORKER_ID: name,
      SLUICE_ENGINE: 'llm',
      SLUICE_MODEL: TINY_MODEL,
      SLUICE_METRICS_PORT: '0',
      SLUICE_COMMIT_INTERVAL_MS: '200',
      SLUICE_SESSION_TIMEOUT_MS: '10000',
      SLUICE_S3_BUCKET: this.bucket,
      SLUICE_EXPORT_PREFIX: this.prefix,
      ...env,
    });
    this.workers.push(worker);
    return worker;
  }

  /** `sluice status BATCH --json`. */
  async status(batchId: string): Promise<BatchCounts> {
    return JSON.parse(await sluice(['status', batchId, '--json'], this.env)) as BatchCounts;
  }

  /** Throws, with the workers' last log lines, when every worker started has exited. */
  expectWorkerRunning(before: string): void {
    if (!this.workers.some((w) => w.isRunning)) throw new Error(`every worker exited before ${before}:\n${this.workers.map((w) => w.tail(20)).join('\n---\n')}`);
  }

  /** Polls `sluice status` until nothing of the batch is pending; fails at once if no worker is left running. */
  async waitForBatch(batchId: string, timeoutMs: number, describe: () => string = () => ''): Promise<BatchCounts> {
    let last: BatchCounts | undefined;
    await until(`batch ${batchId} to finish (last status ${JSON.stringify(last)}) ${describe()}`, async () => {
      this.expectWorkerRunning(`batch ${batchId} finished`);
      last = await this.status(batchId);
      return last.pending === 0;
    }, timeoutMs, 2000);
    return last!;
  }

  /** `sluice collect BATCH -o FILE [--from ...]`, returning its JSON summary (printed on stdout). */
  async collect(batchId: string, output: string, args: string[] = []): Promise<CollectSummary> {
    const r = await runSluice(['collect', batchId, '-o', output, '--json', ...args], this.env);
    if (r.code !== 0) throw new Error(`sluice collect exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as CollectSummary;
  }

  /** Every completion on the results topic as read_committed sees it, duplicates included. */
  async committedCompletions(): Promise<Completion[]> {
    const codec = new RecordCodec(CompletionSchemas);
    return Promise.all((await readCommitted(this.endpoints.brokers, this.topics.results)).map((r) => codec.decode(r.value)));
  }

  async deadLetters(): Promise<DeadLetter[]> {
    const codec = new RecordCodec(DeadLetterSchemas);
    return Promise.all((await readCommitted(this.endpoints.brokers, this.topics.dlq)).map((r) => codec.decode(r.value)));
  }

  /**
   * The batch's export manifest once it accounts for `jobs` completions: workers add a part to it just after the
   * part's Kafka commit, so right after `sluice status` reports the batch done the last parts may still be on their way.
   */
  async exportManifest(batchId: string, jobs: number, timeoutMs = 60_000): Promise<ExportManifest> {
    let manifest: ExportManifest | undefined;
    await until(`the export manifest of ${batchId} to list ${jobs} completions (last: ${manifest?.completions} + ${manifest?.errors} errors)`, async () => {
      try {
        manifest = JSON.parse((await this.object(exportManifestKey(this.prefix, batchId))).toString()) as ExportManifest;
      } catch (err) {
        // Not written yet (404), or read while a worker rewrites it: read again.
        if (!(err instanceof SyntaxError) && (err as { name?: string }).name !== 'NoSuchKey') throw err;
        return false;
      }
      return manifest.completions + manifest.errors >= jobs;
    }, timeoutMs, 250);
    return manifest!;
  }

  async object(key: string): Promise<Buffer> {
    const r = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return Buffer.from(await r.Body!.transformToByteArray());
  }

  /** Stops whatever workers are still running, hard: the test has its answer by now. */
  async close(): Promise<void> {
    for (const w of this.workers) w.signal('SIGKILL');
    await Promise.all(this.workers.map((w) => w.exited));
    this.s3.destroy();
  }
}
