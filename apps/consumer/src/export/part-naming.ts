// Object keys of the S3 export, in the layout @sluice/schema's export-layout defines for every reader:
// <prefix>/batch_id=<id>/part-<partition:5>-<first:19>-<last:19>.<ext> and manifest.json. A part's key is fixed by
// (batch, partition, offset range), so replaying the same range after a crash overwrites the part.
// TODO(schema): replace with @sluice/schema's exportPartKey/exportManifestKey once that package exports them.

export type PartFormat = 'jsonl' | 'parquet';

export interface ExportPart {
  partition: number;
  firstOffset: number;
  lastOffset: number;
  format: PartFormat;
}

const trimSlashes = (s: string) => s.replace(/^\/+|\/+$/g, '');

export function batchExportPrefix(prefix: string, batchId: string): string {
  const p = trimSlashes(prefix);
  return `${p ? `${p}/` : ''}batch_id=${batchId}/`;
}

export function exportPartName(part: ExportPart): string {
  const pad = (n: number, w: number) => String(n).padStart(w, '0');
  return `part-${pad(part.partition, 5)}-${pad(part.firstOffset, 19)}-${pad(part.lastOffset, 19)}.${part.format}`;
}

export function exportPartKey(prefix: string, batchId: string, part: ExportPart): string {
  return `${batchExportPrefix(prefix, batchId)}${exportPartName(part)}`;
}

export function exportManifestKey(prefix: string, batchId: string): string {
  return `${batchExportPrefix(prefix, batchId)}manifest.json`;
}
