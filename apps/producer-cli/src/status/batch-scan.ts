// Counts a batch's jobs by reading the batches, results and dead-letter topics (read_committed) to their current ends.
import { CompletionSchemas, DeadLetterSchemas, HEADERS, METADATA_SEQ, PromptJobSchemas, type BatchManifest, type Completion, type DeadLetter } from '@sluice/schema';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { codecFor } from '../kafka/client';
import { readTopicToEnd, type ReadOptions } from '../kafka/read-topic';
import type { KafkaSettings } from '../kafka/settings';
import { logger } from '../logger';
import { readBatchManifest } from './batch-manifest';
import { keepOnePerJob } from './one-per-job';
import { SKIPPED_ROW_PARTITION } from '../produce/skipped-rows';

export interface BatchStatus {
  batch_id: string;
  /** Jobs in the batch, from its manifest; null while no manifest exists (produce still running, or it failed). */
  jobs: number | null;
  done: number;
  failed: number;
  dead_lettered: number;
  /** Input rows produce skipped as bad (--skip-bad), each a BAD_ROW dead letter; not among `jobs`. Always set by scanBatch. */
  skipped?: number;
  /** jobs - done - failed - dead_lettered; null without a manifest. */
  pending: number | null;
  /** Records of this batch that could not be decoded (logged). */
  unreadable: number;
  /** Tokens over the batch's kept completions so far. */
  usage: UsageTotals;
  manifest: BatchManifest | null;
}

export interface BatchScan {
  status: BatchStatus;
  /** One completion per job (keepOnePerJob): the first committed success, else the first committed error. */
  completions: Map<string, Completion>;
  /** Dead-lettered jobs of the batch with no completion, by job id: the first dead letter of each. */
  deadLetters: Map<string, DeadLetteredJob>;
}

export interface DeadLetteredJob {
  letter: DeadLetter;
  /** The job's input position: the sluice-seq header, else the decoded job's metadata; undefined when neither is readable. */
  seq?: number;
  /** The job as produced, when its value still decodes (not cut, not garbage). */
  metadata?: Record<string, string>;
  /** An input row produce skipped (--skip-bad), never a job on the jobs topic. */
  skippedRow: boolean;
}

export interface ScanOptions extends ReadOptions {
  /** Read the results topic too (false: the completions come from an export; only the manifest and DLQ are read). */
  results?: boolean;
}

function headerText(message: KafkaMessage, name: string): string | undefined {
  const v = message.headers?.[name];
  const first = Array.isArray(v) ? v[0] : v;
  return first === undefined ? undefined : first.toString();
}

const seqNumber = (raw: string | undefined) => (raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : undefined);

/** The dead letter's job as far as it can be read: its metadata from the value, its position from a header or that metadata. */
async function deadLetteredJob(letter: DeadLetter, jobs: { decode(v: Buffer): Promise<{ metadata: Record<string, string> }> }): Promise<DeadLetteredJob> {
  let metadata: Record<string, string> | undefined;
  if (letter.value && !letter.value_truncated && letter.source_partition !== SKIPPED_ROW_PARTITION) metadata = await jobs.decode(letter.value).then((j) => j.metadata, () => undefined);
  const skippedRow = letter.source_partition === SKIPPED_ROW_PARTITION;
  return { letter, seq: seqNumber(letter.headers[HEADERS.seq]?.toString()) ?? seqNumber(metadata?.[METADATA_SEQ]), metadata, skippedRow };
}

/** A batch's token totals, as status and collect report them (OpenAI's usage names; cached_tokens: of the prompt tokens). */
export interface UsageTotals {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** Prompt tokens served from a worker's prefix cache; a record written before completion v2 counts none. */
  cached_tokens: number;
}

export function usageTotals(completions: Completion[]): UsageTotals {
  const sum = (f: (c: Completion) => number) => completions.reduce((n, c) => n + f(c), 0);
  const prompt = sum((c) => c.usage.prompt_tokens);
  const completion = sum((c) => c.usage.completion_tokens);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, cached_tokens: sum((c) => c.usage.cached_tokens ?? 0) };
}

export async function scanBatch(kafka: Kafka, settings: KafkaSettings, batchId: string, options: ScanOptions): Promise<BatchScan> {
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
  if (options.results !== false) await readTopicToEnd(kafka, topics.results, async ({ message }) => {
    if (!message.value?.includes(needle)) return;
    let completion: Completion;
    try {
      completion = await results.decode(message.value);
    } catch (err) {
      return warn(topics.results, message.offset, err);
    }
    keepOnePerJob(completions, batchId, completion);
  }, options);

  const dead = new Map<string, DeadLetteredJob>();
  const letters = codecFor(settings, DeadLetterSchemas, topics.dlq);
  const jobs = codecFor(settings, PromptJobSchemas, topics.jobs);
  await readTopicToEnd(kafka, topics.dlq, async ({ partition, message }) => {
    if (!message.value?.includes(needle)) return;
    try {
      const letter = await letters.decode(message.value);
      const batch = letter.batch_id ?? letter.headers[HEADERS.batchId]?.toString() ?? headerText(message, HEADERS.batchId);
      if (batch !== batchId) return;
      const jobId = letter.job_id ?? letter.headers[HEADERS.jobId]?.toString() ?? `${letter.source_topic}/${letter.source_partition}/${letter.source_offset}`;
      if (!dead.has(jobId)) dead.set(jobId, await deadLetteredJob({ ...letter, job_id: jobId }, jobs));
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
  const count = m ? m.job_count : null;
  const skipped = [...dead.values()].filter((d) => d.skippedRow).length;
  return {
    status: {
      batch_id: batchId,
      jobs: count,
      done,
      failed,
      dead_lettered: dead.size - skipped,
      skipped,
      pending: count === null ? null : Math.max(count - done - failed - (dead.size - skipped), 0),
      unreadable,
      usage: usageTotals(all),
      manifest: m,
    },
    completions,
    deadLetters: dead,
  };
}
