// The batch manifest (manifest.json beside the parts), in @sluice/schema's ExportManifest shape.
import type { ExportFormat, ExportManifest, ExportManifestPart } from '@sluice/schema';

export type { ExportManifest, ExportManifestPart };

/** The entry this worker writes: the shared fields plus the part's error count, so the totals can be summed from the entries. */
export interface ManifestPartEntry extends ExportManifestPart {
  errors: number;
}

export function emptyManifest(batchId: string, format: ExportFormat): ExportManifest {
  return { batch_id: batchId, format, completions: 0, errors: 0, parts: [], updated_at: new Date(0).toISOString() };
}

const errorsOf = (p: ExportManifestPart) => (p as Partial<ManifestPartEntry>).errors ?? 0;

const sameEntry = (a: ExportManifestPart, b: ManifestPartEntry) =>
  a.partition === b.partition && a.first_offset === b.first_offset && a.last_offset === b.last_offset && a.records === b.records && a.bytes === b.bytes && a.sha256 === b.sha256 && errorsOf(a) === b.errors;

/**
 * Adds committed parts: a set union by key (committed ranges of a partition never overlap, so nothing is ever
 * dropped). `replace` says what an entry already listed under the same key becomes: the committer of a part
 * replaces it (the object now holds the committer's bytes); a repair only fills in missing keys.
 * Returns undefined when the manifest would not change, so callers can skip the write.
 */
export function addParts(m: ExportManifest, entries: ManifestPartEntry[], now: Date, replace: boolean): ExportManifest | undefined {
  const byKey = new Map(m.parts.map((p) => [p.key, p]));
  let changed = false;
  for (const e of entries) {
    const existing = byKey.get(e.key);
    if (existing && (!replace || sameEntry(existing, e))) continue;
    byKey.set(e.key, e);
    changed = true;
  }
  if (!changed) return undefined;
  const parts = [...byKey.values()].sort((a, b) => a.partition - b.partition || a.first_offset - b.first_offset || a.key.localeCompare(b.key));
  const errors = parts.reduce((s, p) => s + errorsOf(p), 0);
  return { ...m, parts, completions: parts.reduce((s, p) => s + p.records, 0) - errors, errors, updated_at: now.toISOString() };
}
