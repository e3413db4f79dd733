// What every failure scenario must show once its batch is done: each job exactly once, everywhere.
import type { Completion } from '@sluice/schema';
import type { Pipeline } from './pipeline';

export interface BatchEvidence {
  completions: Completion[];
  /** job_id → how many committed completions it has on the results topic. */
  copies: Map<string, number>;
  exported: string[];
}

/** Reads the results topic (read_committed) and the export manifest's parts for one batch of `jobs` jobs. */
export async function batchEvidence(p: Pipeline, batchId: string, jobs: number): Promise<BatchEvidence> {
  const completions = (await p.committedCompletions()).filter((c) => c.batch_id === batchId);
  const copies = new Map<string, number>();
  for (const c of completions) copies.set(c.job_id, (copies.get(c.job_id) ?? 0) + 1);
  const manifest = await p.exportManifest(batchId, jobs);
  const exported: string[] = [];
  for (const part of manifest.parts) exported.push(...(await p.object(part.key)).toString().trim().split('\n').map((l) => (JSON.parse(l) as { job_id: string }).job_id));
  return { completions, copies, exported };
}

/** job ids seen more than once, and expected ids never seen. */
export function lossAndDuplicates(expected: readonly string[], seen: readonly string[]): { missing: string[]; duplicated: string[] } {
  const counts = new Map<string, number>();
  for (const id of seen) counts.set(id, (counts.get(id) ?? 0) + 1);
  return {
    missing: expected.filter((id) => !counts.has(id)),
    duplicated: [...counts].filter(([, n]) => n > 1).map(([id]) => id),
  };
}
