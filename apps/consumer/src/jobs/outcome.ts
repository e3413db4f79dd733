import type { IHeaders, KafkaMessage } from 'kafkajs';
import type { EngineResult } from '../engine/inference-engine';
import { afterWait, completionRecord, errorCompletionRecord } from '@sluice/engine';
import { deadLetterOriginal, HEADERS } from '@sluice/schema';
import type { Completion, DeadLetter, PromptJob } from './schema';

/**
 * What a finished job produces: a Completion for the results topic, or a DeadLetter for the DLQ. A completion keeps
 * its origin so that one too large for the results topic in any form can still be dead-lettered.
 */
export type Outcome =
  | { kind: 'completion'; completion: Completion; origin: Origin }
  | { kind: 'dead-letter'; key: Buffer | null; deadLetter: DeadLetter }
  // A second copy of a job already running or uncommitted here: its offset is committed, nothing is written.
  | { kind: 'duplicate' };

/** The outcomes that become a record on the results topic or the DLQ. */
export type RecordOutcome = Exclude<Outcome, { kind: 'duplicate' }>;
export const writesRecord = (o: Outcome): o is RecordOutcome => o.kind !== 'duplicate';

export interface Origin {
  topic: string;
  partition: number;
  message: KafkaMessage;
  workerId: string;
  receivedAt: number;
}

/** The Completion of a served job, by @sluice/engine's one record rule; its timings start when the worker took the job. */
export function successCompletion(job: PromptJob, result: EngineResult, model: string, o: Origin, submittedAt: number): Completion {
  return completionRecord(job, result, afterWait(result.timings, submittedAt - o.receivedAt), { model, workerId: o.workerId });
}

/** A job answered with an outcome code: queued from when the worker took it until now. */
export function errorCompletion(job: PromptJob, code: string, message: string, model: string, o: Origin): Completion {
  return errorCompletionRecord(job, { code, message }, { model, workerId: o.workerId }, Date.now() - o.receivedAt);
}

function headerBuffers(headers: IHeaders | undefined): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (v === undefined) continue;
    const first = Array.isArray(v) ? v[0] : v;
    out[k] = Buffer.isBuffer(first) ? first : Buffer.from(String(first));
  }
  return out;
}

export function deadLetter(code: string, message: string, o: Origin, ids: { job_id?: string; batch_id?: string }): DeadLetter {
  const headers = headerBuffers(o.message.headers);
  const value = o.message.value ?? null;
  return {
    key: o.message.key ?? null,
    value,
    headers,
    source_topic: o.topic,
    source_partition: o.partition,
    source_offset: Number(o.message.offset),
    error_code: code,
    error_message: message,
    // Undecodable bytes still name their job and batch when the producer set the sluice headers.
    job_id: ids.job_id ?? headers[HEADERS.jobId]?.toString() ?? null,
    batch_id: ids.batch_id ?? headers[HEADERS.batchId]?.toString() ?? null,
    worker_id: o.workerId,
    failed_at: Date.now(),
    ...deadLetterOriginal(value),
  };
}

/** Replaces an outcome in place: the offset tracker, the export and the metrics all hold this one object. */
export function replaceOutcome(target: Outcome, next: Outcome): void {
  for (const k of Object.keys(target)) delete (target as Partial<Record<string, unknown>>)[k];
  Object.assign(target, next);
}
