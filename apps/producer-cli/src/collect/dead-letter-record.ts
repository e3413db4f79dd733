// A dead-lettered job as an error record, so collect writes one line for it like any failed job.
import { METADATA_SEQ, type Completion } from '@sluice/schema';
import type { DeadLetteredJob } from '../status/batch-scan';

/** The error record of a dead-lettered job: the DLQ's code and reason, its input position kept for ordering. */
export function deadLetterRecord(batchId: string, dead: DeadLetteredJob): Completion {
  const { letter } = dead;
  const metadata = { ...(dead.metadata ?? {}), ...(dead.seq === undefined ? {} : { [METADATA_SEQ]: String(dead.seq) }) };
  return {
    job_id: letter.job_id as string,
    batch_id: batchId,
    outputs: [],
    usage: { prompt_tokens: 0, completion_tokens: 0 },
    timings: { queued_ms: 0, first_token_ms: null, total_ms: 0 },
    model: '',
    worker_id: letter.worker_id ?? '',
    metadata,
    error: { code: letter.error_code, message: letter.error_message },
    completed_at: letter.failed_at,
  };
}
