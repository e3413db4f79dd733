// `sluice produce`: rows of a file become PromptJobs on the jobs topic, then a BatchManifest says how many there are.
import { BatchManifestSchemas, DeadLetterSchemas, HEADERS, METADATA_SEQ, PromptJobSchemas, type PromptJob } from '@sluice/schema';
import { CompressionTypes, type Message, type Producer } from 'kafkajs';
import { BadRowError, CliError, EXIT } from '../errors';
import { openInput } from '../input/detect';
import { BadRows, jobRows } from '../input/job-rows';
import type { InputFormat } from '../input/input-row';
import { codecFor, createKafka, serviceError } from '../kafka/client';
import type { KafkaSettings } from '../kafka/settings';
import { ensureTopics, type TopicLayout } from '../kafka/topics';
import { logger } from '../logger';
import { ProgressBar } from '../progress';
import { refuseExistingBatch } from './rerun';
import { RowError } from './row-error';
import { skippedRowLetter } from './skipped-rows';
import type { MappingOptions } from './row-to-job';

export interface ProduceOptions {
  file: string;
  format?: InputFormat;
  batchId: string;
  mapping: Omit<MappingOptions, 'format' | 'batchId'>;
  skipBad: boolean;
  dryRun: boolean;
  createTopics?: TopicLayout;
  compression: 'gzip' | 'none';
  progress: boolean;
  /** Jobs larger than this are bad rows: the broker would refuse them (its message.max.bytes). */
  maxMessageBytes: number;
  /** Check the batches topic first and refuse a batch id that already has a manifest (a --batch-id given without --rerun). */
  refuseExisting: boolean;
  signal?: AbortSignal;
}

export interface ProduceSummary {
  batch_id: string;
  source: string;
  format: InputFormat;
  topic: string;
  jobs: number;
  bad_rows: number;
  /** The first bad rows, `file:line: reason`. */
  bad_examples: string[];
  seconds: number;
  jobs_per_second: number;
  dry_run: boolean;
}

const CHUNK_MESSAGES = 500;
const CHUNK_BYTES = 512 * 1024;

export async function produce(settings: KafkaSettings, options: ProduceOptions): Promise<ProduceSummary> {
  const started = Date.now();
  const source = await openInput(options.file, options.format);
  const mapping: MappingOptions = { ...options.mapping, format: source.format, batchId: options.batchId };
  const topic = settings.topics.jobs;
  const codec = codecFor(settings, PromptJobSchemas, topic);
  const compression = options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  const kafka = options.dryRun ? undefined : createKafka(settings);
  let producer: Producer | undefined;

  if (kafka) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      if (options.createTopics) {
        const created = await ensureTopics(admin, settings, options.createTopics);
        if (created.length) logger.info({ topics: created }, 'created topics');
      }
      const topics = new Set(await admin.listTopics());
      // With --skip-bad, each skipped row goes to the DLQ so collect can still give it its line.
      for (const t of [topic, settings.topics.batches, ...(options.skipBad ? [settings.topics.dlq] : [])]) {
        if (!topics.has(t)) throw new CliError(EXIT.USAGE, `topic ${t} does not exist: create it or pass --create-topics`);
      }
    } catch (err) {
      throw serviceError('checking topics', settings, err);
    } finally {
      await admin.disconnect();
    }
    if (options.refuseExisting) await refuseExistingBatch(kafka, settings, options.batchId, options.signal);
    // Idempotent: a retried send is deduplicated by the broker, so no job is written twice by one run.
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    try {
      await producer.connect();
    } catch (err) {
      throw serviceError('connecting the producer', settings, err);
    }
  }

  const bar = new ProgressBar('produce', source.total, options.progress);
  const bad = new BadRows(options.skipBad, options.batchId);
  let jobs = 0;
  let chunk: Message[] = [];
  let chunkBytes = 0;
  let inflight: Promise<unknown> = Promise.resolve();
  // Double buffering: the next chunk is built while the previous one is in flight.
  const flush = async () => {
    await inflight;
    if (!producer || chunk.length === 0) return;
    const messages = chunk;
    chunk = [];
    chunkBytes = 0;
    inflight = producer.send({ topic, acks: -1, compression, messages }).catch((err) => {
      throw serviceError(`producing to ${topic}`, settings, err);
    });
  };
  const encode = async (job: PromptJob) => {
    const value = await codec.encode(job);
    if (value.length > options.maxMessageBytes) throw new RowError(`the encoded job is ${value.length} bytes, over the ${options.maxMessageBytes}-byte message limit`);
    return value;
  };
  const summary = () => `${jobs} jobs, ${bad.count} bad, ${Math.round(bar.rate(jobs))} jobs/s`;
  try {
    for await (const { job, prepared: value, progress } of jobRows(source, mapping, bad, encode)) {
      if (options.signal?.aborted) throw new CliError(EXIT.INTERRUPTED, `interrupted after ${jobs} jobs of batch ${options.batchId}; no manifest was written`);
      bar.update(progress, summary());
      jobs += 1;
      chunk.push({ key: job.job_id, value, headers: { [HEADERS.batchId]: options.batchId, [HEADERS.jobId]: job.job_id, [HEADERS.seq]: job.metadata[METADATA_SEQ] ?? '' } });
      chunkBytes += value.length;
      if (chunk.length >= CHUNK_MESSAGES || chunkBytes >= CHUNK_BYTES) await flush();
    }
    await flush();
    await inflight;
    bar.update(source.total, summary());
    if (jobs === 0 && bad.count === 0) throw new CliError(EXIT.USAGE, `${options.file} holds no rows: there is nothing to produce`);
    if (producer && bad.skipped.length) {
      const codec = codecFor(settings, DeadLetterSchemas, settings.topics.dlq);
      const messages = await Promise.all(bad.skipped.map(async (row) => {
        const letter = skippedRowLetter(row, options.batchId, options.file, options.mapping.idField);
        return { key: letter.key, value: await codec.encode(letter) };
      }));
      await producer.send({ topic: settings.topics.dlq, acks: -1, messages }).catch((err) => {
        throw serviceError(`writing the skipped rows to ${settings.topics.dlq}`, settings, err);
      });
    }
    if (producer) {
      const manifest = { batch_id: options.batchId, jobs_topic: topic, job_count: jobs, skipped_rows: bad.count, source: options.file, created_at: started, completed_at: Date.now() };
      const value = await codecFor(settings, BatchManifestSchemas, settings.topics.batches).encode(manifest);
      await producer.send({ topic: settings.topics.batches, acks: -1, messages: [{ key: options.batchId, value }] }).catch((err) => {
        throw serviceError(`writing the batch manifest to ${settings.topics.batches}`, settings, err);
      });
    }
  } catch (err) {
    // Everything before a bad row is produced, so the failure message can say exactly where the batch stands.
    if (err instanceof BadRowError && producer) {
      await flush();
      await inflight;
      throw new BadRowError(err.where, `${err.reason} (${jobs} jobs before it were produced as batch ${options.batchId}, no manifest written; fix the row and re-run with --batch-id ${options.batchId}, or use --skip-bad)`);
    }
    throw err;
  } finally {
    bar.stop();
    await producer?.disconnect();
  }
  const seconds = (Date.now() - started) / 1000;
  return {
    batch_id: options.batchId,
    source: options.file,
    format: source.format,
    topic,
    jobs,
    bad_rows: bad.count,
    bad_examples: bad.examples,
    seconds,
    jobs_per_second: jobs / Math.max(seconds, 1e-3),
    dry_run: options.dryRun,
  };
}
