// Rows produce skipped (--skip-bad) as dead letters on the DLQ, so collect still answers each with an error line.
import { deadLetterOriginal, HEADERS, type DeadLetter } from '@sluice/schema';
import type { SkippedRow } from '../input/job-rows';

/** Marks a dead letter as an input row that never became a job (no Kafka partition held it). */
export const SKIPPED_ROW_PARTITION = -1;

// The id the row would have had: its own id field when readable, else the generated <batch>-<row> one.
function jobIdOf(row: SkippedRow, batchId: string, idField: string | undefined): string {
  const r = row.record ?? {};
  for (const field of [idField, 'custom_id', 'job_id']) {
    const v = field ? r[field] : undefined;
    if ((typeof v === 'string' && v.trim() !== '') || (typeof v === 'number' && Number.isFinite(v))) return String(v);
  }
  return `${batchId}-${row.seq}`;
}

export function skippedRowLetter(row: SkippedRow, batchId: string, file: string, idField?: string): DeadLetter {
  const jobId = jobIdOf(row, batchId, idField);
  const value = row.record ? Buffer.from(JSON.stringify(row.record)) : null;
  return {
    key: Buffer.from(jobId),
    value,
    headers: { [HEADERS.batchId]: Buffer.from(batchId), [HEADERS.jobId]: Buffer.from(jobId), [HEADERS.seq]: Buffer.from(String(row.seq)) },
    // The input file stands where a topic would: the row was never on one.
    source_topic: file,
    source_partition: SKIPPED_ROW_PARTITION,
    source_offset: row.seq,
    error_code: 'BAD_ROW',
    error_message: `${row.where}: ${row.reason}`,
    job_id: jobId,
    batch_id: batchId,
    worker_id: 'sluice-produce',
    failed_at: Date.now(),
    ...deadLetterOriginal(value),
  };
}
