// Input order: by the sluice.seq metadata produce sets; jobs without it (produced elsewhere) follow, by job_id.
import { METADATA_SEQ, type Completion } from '@sluice/schema';

function seqOf(c: Completion): number {
  const raw = c.metadata[METADATA_SEQ];
  const n = raw === undefined ? NaN : Number(raw);
  return Number.isInteger(n) && n >= 0 ? n : Infinity;
}

export function inInputOrder(completions: Iterable<Completion>): Completion[] {
  return [...completions].sort((a, b) => seqOf(a) - seqOf(b) || (a.job_id < b.job_id ? -1 : a.job_id > b.job_id ? 1 : 0));
}
