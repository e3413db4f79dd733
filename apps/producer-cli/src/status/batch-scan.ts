// Counts a batch's jobs by reading the batches, results and dead-letter topics (read_committed) to their current ends.
import { CompletionSchemas, DeadLetterSchemas, HEADERS, type BatchManifest, type Completion } from '@sluice/schema';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { codecFor } from '../kafka/client';
import { readTopicToEnd, type ReadOptions } from '../kafka/read-topic';
import type { KafkaSettings } from '../kafka/settings';
import { logger } from '../logger';
import { readBatchManifest } from './batch-manifest';
import { keepOnePerJob } from './one-per-job';

export interface BatchStatus {
  batch_id: string;
  /** Jobs in the batch, from its manifest; null while no manifest exists (produce still running, or it failed). */
  jobs: number | null;
  done: number;
  failed: number;
  dead_lettered: number;
  /** jobs - done - failed - dead_lettered; null without a manifest. */
  pending: number | null;
  /** Records of this batch that could not be decoded (logged). */
  unreadable: number;
  manifest: BatchManifest | null;
}

export interface BatchScan {
  status: BatchStatus;
  /** One completion per job (keepOnePerJob): the first committed success, else the first committed error. */
  completions: Map<string, Completion>;
}

function headerText(message: KafkaMessage, name: string): string | undefined {
  const v = message.headers?.[name];
  const first = Array.isArray(v) ? v[0] : v;
  return first === undefined ? undefined : first.toString();
}

export async function scanBatch(kafka: Kafka, settings: KafkaSettings, batchId: string, options: ReadOptions): Promise<BatchScan> {
  const { topics } = settings;
  // Avro and JSON both hold the batch id's UTF-8 bytes verbatim: records without them are skipped undecoded.
  const needle = Buffer.from(batchId, 'utf8');
  let unreadable = 0;
  const warn = (topic: string, offset: string, err: unknown) => {
    unreadable += 1;
    logger.warn({ batch_id: batchId, topic, offset, err: (err as Error).message }, 'record not decodable; not counted');
  };

  const manifest = await readBatchManifest(kafka, settings, batchId, options, (offset, err) => warn(topics.batches, offset, err));

  const completions = new Map<string, Completion>();
  const results = codecFor(settings, CompletionSchemas, topics.results);
  await readTopicToEnd(kafka, topics.results, async ({ message }) => {
    if (!message.value?.includes(needle)) return;
    let completion: Completion;
    try {
      completion = await results.decode(message.value);
    } catch (err) {
      return warn(topics.results, message.offset, err);
    }
    keepOnePerJob(completions, batchId, completion);
  }, options);

  const dead = new Set<string>();
  const letters = codecFor(settings, DeadLetterSchemas, topics.dlq);
  await readTopicToEnd(kafka, topics.dlq, async ({ partition, message }) => {
    if (!message.value?.includes(needle)) return;
    try {
      const letter = await letters.decode(message.value);
      const batch = letter.batch_id ?? letter.headers[HEADERS.batchId]?.toString() ?? headerText(message, HEADERS.batchId);
      if (batch !== batchId) return;
      const jobId = letter.job_id ?? letter.headers[HEADERS.jobId]?.toString();
      dead.add(jobId ?? `${letter.source_topic}/${letter.source_partition}/${letter.source_offset}`);
    } catch (err) {
      warn(`${topics.dlq}[${partition}]`, message.offset, err);
    }
  }, options);

  // A job retried after dead-lettering that then completed counts once, as completed.
  for (const id of completions.keys()) dead.delete(id);
  const all = [...completions.values()];
  const done = all.filter((c) => !c.error).length;
  const failed = all.length - done;
  const m: BatchManifest | null = manifest;
  const jobs = m ? m.job_count : null;
  return {
    status: {
      batch_id: batchId,
      jobs,
      done,
      failed,
      dead_lettered: dead.size,
      pending: jobs === null ? null : Math.max(jobs - done - failed - dead.size, 0),
      unreadable,
      manifest: m,
    },
    completions,
  };
}
