// Re-runs and duplicates, one rule for status and for collect from Kafka or an export.
import type { Completion } from '@sluice/schema';

/**
 * A job is identified by (batch_id, job_id). One completion per job: the first committed success, else the first
 * committed error. `kept` holds the batch's choice so far; call this for each completion in commit order (the results
 * topic's order: every completion of a job is keyed by its job_id, so all land on one partition; an export's parts in
 * partition and offset order).
 */
export function keepOnePerJob(kept: Map<string, Completion>, batchId: string, completion: Completion): void {
  if (completion.batch_id !== batchId) return;
  const previous = kept.get(completion.job_id);
  if (!previous || (previous.error && !completion.error)) kept.set(completion.job_id, completion);
}
