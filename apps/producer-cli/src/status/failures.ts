// `sluice status --failures`: every failed and dead-lettered job of a batch, in input order, with its code and reason.
import { deadLetterRecord } from '../collect/dead-letter-record';
import { inInputOrder } from '../collect/input-order';
import type { BatchScan } from './batch-scan';

export interface Failure {
  job_id: string;
  code: string;
  message: string;
  /** True when the job went to the DLQ; false when a worker answered it with an error completion. */
  dead_lettered: boolean;
}

export function failuresOf(batchId: string, scan: BatchScan): Failure[] {
  const failed = [...scan.completions.values()].filter((c) => c.error);
  const dead = [...scan.deadLetters].filter(([id]) => !scan.completions.has(id)).map(([, d]) => deadLetterRecord(batchId, d));
  const deadIds = new Set(dead.map((c) => c.job_id));
  return inInputOrder([...failed, ...dead]).map((c) => ({ job_id: c.job_id, code: c.error!.code, message: c.error!.message, dead_lettered: deadIds.has(c.job_id) }));
}

/** One line per failure: job id, code (marked when dead-lettered), reason. */
export function formatFailures(failures: Failure[]): string {
  if (failures.length === 0) return 'no failed or dead-lettered jobs';
  const width = Math.max(...failures.map((f) => f.job_id.length), 6);
  const codeWidth = Math.max(...failures.map((f) => f.code.length + (f.dead_lettered ? 6 : 0)), 4);
  const head = `${'job_id'.padEnd(width)}  ${'code'.padEnd(codeWidth)}  reason`;
  return [head, ...failures.map((f) => `${f.job_id.padEnd(width)}  ${(f.dead_lettered ? `${f.code} (DLQ)` : f.code).padEnd(codeWidth)}  ${f.message}`)].join('\n');
}
