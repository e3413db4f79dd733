// Names every Sluice process agrees on: default topics, message headers, reserved metadata keys.

/** Default topic names; every app lets them be overridden. */
export const DEFAULT_TOPICS = {
  /** PromptJob records keyed by job_id. */
  jobs: 'sluice.jobs',
  /** Completion records keyed by job_id, written transactionally. */
  results: 'sluice.results',
  /** DeadLetter records keyed like the original message. */
  dlq: 'sluice.dlq',
  /** BatchManifest records keyed by batch_id (compacted): how many jobs each batch has. */
  batches: 'sluice.batches',
} as const;

/** Headers `sluice produce` sets on each job, so a DeadLetter of undecodable bytes can still be tied to its batch. */
export const HEADERS = {
  batchId: 'sluice-batch-id',
  jobId: 'sluice-job-id',
  /** The job's 0-based input position (as METADATA_SEQ), so collect can place a dead letter whose value is unreadable. */
  seq: 'sluice-seq',
} as const;

/** Metadata key `sluice produce` sets to the job's 0-based position in its input file; collect orders by it. */
export const METADATA_SEQ = 'sluice.seq';

/** Batch ids become S3 path segments: letters, digits and . _ : - only, so no id can escape its prefix. */
export const BATCH_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
