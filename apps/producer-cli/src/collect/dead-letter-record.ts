// A dead-lettered job as an error record, so collect writes one line for it like any failed job.
import { errorCompletionRecord, type CompletionContext } from '@sluice/engine/completion-record';
import { METADATA_SEQ, type Completion } from '@sluice/schema';
import type { DeadLetteredJob } from '../status/batch-scan';

/**
 * The error record of a dead-lettered job: the DLQ's code and reason, its input position kept for ordering. A worker's
 * dead letter names no model (`ctx` defaults to none and the letter's worker); generate names its own.
 */
export function deadLetterRecord(batchId: string, dead: DeadLetteredJob, ctx?: CompletionContext): Completion {
  const { letter } = dead;
  const metadata = { ...(dead.metadata ?? {}), ...(dead.seq === undefined ? {} : { [METADATA_SEQ]: String(dead.seq) }) };
  const job = { job_id: letter.job_id as string, batch_id: batchId, metadata };
  const error = { code: letter.error_code, message: letter.error_message };
  return errorCompletionRecord(job, error, ctx ?? { model: '', workerId: letter.worker_id ?? '' }, 0, letter.failed_at);
}
