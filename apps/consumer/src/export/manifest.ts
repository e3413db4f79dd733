// The batch manifest (manifest.json beside the parts), in @sluice/schema's ExportManifest shape.
import type { ExportFormat, ExportManifest, ExportManifestPart } from '@sluice/schema';

export type { ExportManifest, ExportManifestPart };

/** The entry this worker writes: the shared fields plus the part's error count, so totals survive a superseded part. */
export interface ManifestPartEntry extends ExportManifestPart {
  errors: number;
}

export function emptyManifest(batchId: string, format: ExportFormat): ExportManifest {
  return { batch_id: batchId, format, completions: 0, errors: 0, parts: [], updated_at: new Date(0).toISOString() };
}

const errorsOf = (p: ExportManifestPart) => (p as Partial<ManifestPartEntry>).errors ?? 0;

/**
 * Adds a part, dropping entries it supersedes. A worker writes a part starting at offset F of a partition only once
 * everything before F is committed, so an entry of that partition starting at or after F was written by an attempt
 * whose commit never happened; the replay's part replaces it. Returns the new manifest and the keys it dropped.
 */
export function addPart(m: ExportManifest, part: ManifestPartEntry, now: Date): { manifest: ExportManifest; dropped: string[] } {
  const superseded = (p: ExportManifestPart) => p.partition === part.partition && p.first_offset >= part.first_offset;
  const dropped = m.parts.filter((p) => superseded(p) && p.key !== part.key).map((p) => p.key);
  const parts = [...m.parts.filter((p) => !superseded(p)), part].sort((a, b) => a.partition - b.partition || a.first_offset - b.first_offset);
  const errors = parts.reduce((s, p) => s + errorsOf(p), 0);
  return {
    manifest: { ...m, parts, completions: parts.reduce((s, p) => s + p.records, 0) - errors, errors, updated_at: now.toISOString() },
    dropped,
  };
}
