// The rows of an input file as checked PromptJobs, shared by produce and generate so both map and refuse rows alike.
import { SchemaError, type PromptJob } from '@sluice/schema';
import { BadRowError, CliError, EXIT } from '../errors';
import { logger } from '../logger';
import { knownFields } from '../produce/row-fields';
import { RowError } from '../produce/row-error';
import { rowToJob, type MappingOptions } from '../produce/row-to-job';
import type { InputSource } from './input-row';

const BAD_EXAMPLES = 10;

/** Bad rows: the first one stops the run, or with --skip-bad each is counted and the first few kept for the report. */
export class BadRows {
  count = 0;
  readonly examples: string[] = [];
  /** Every skipped row with its input position, so produce can answer each with a dead letter. */
  readonly skipped: SkippedRow[] = [];

  constructor(
    private readonly skip: boolean,
    private readonly batchId: string,
  ) {}

  report(where: string, reason: string, row?: { seq: number; record?: Record<string, unknown> }): void {
    if (!this.skip) throw new BadRowError(where, reason);
    this.count += 1;
    if (row) this.skipped.push({ seq: row.seq, where, reason, record: row.record });
    if (this.examples.length < BAD_EXAMPLES) this.examples.push(`${where}: ${reason}`);
    logger.info({ batch_id: this.batchId, where }, `skipped bad row: ${reason}`);
  }
}

export interface SkippedRow {
  seq: number;
  where: string;
  reason: string;
  /** The row as read, when it could be parsed at all. */
  record?: Record<string, unknown>;
}

export interface JobRow<T> {
  job: PromptJob;
  /** What `prepare` made of the job (an encoded record, an engine request). */
  prepared: T;
  where: string;
  /** The reader's progress after this row, in its source's unit. */
  progress: number;
}

function rowReason(err: unknown): string {
  // A failure a retry may cure (a registry that cannot be reached) says nothing about the row: a service failure, not a bad row.
  if (err instanceof SchemaError && err.retriable) throw new CliError(EXIT.SERVICE, err.message, { cause: err });
  if (err instanceof RowError || err instanceof SchemaError) return err.message;
  throw err;
}

/**
 * Maps every row to a job and `prepare`s it; a row that fails either (RowError, SchemaError), repeats a job id or
 * cannot be parsed goes to `bad`. Row positions count bad rows too, so generated ids stay put when one is fixed.
 */
export async function* jobRows<T>(source: InputSource, mapping: MappingOptions, bad: BadRows, prepare: (job: PromptJob) => T | Promise<T>): AsyncGenerator<JobRow<T>> {
  const seen = new Set<string>();
  const known = knownFields(mapping);
  let seq = -1;
  for await (const row of source.rows()) {
    seq += 1;
    if (!row.ok) {
      bad.report(row.where, row.reason, { seq });
      continue;
    }
    let job: PromptJob;
    let prepared: T;
    try {
      job = rowToJob(row.record, seq, mapping, known);
      if (seen.has(job.job_id)) throw new RowError(`duplicate job_id "${job.job_id}" (job ids must be unique within a batch)`);
      prepared = await prepare(job);
    } catch (err) {
      bad.report(row.where, rowReason(err), { seq, record: row.record });
      continue;
    }
    seen.add(job.job_id);
    yield { job, prepared, where: row.where, progress: row.progress };
  }
}
