// Where completions are exported: <prefix>/batch_id=<id>/part-<partition>-<first>-<last>.<ext> plus manifest.json.
// Part names come from the jobs-topic partition and offset range they cover, so a replay overwrites, never duplicates.

export type ExportFormat = 'jsonl' | 'parquet';

export type ExportTarget = { kind: 's3'; bucket: string; prefix: string } | { kind: 'file'; dir: string; prefix: string };

export interface ExportPart {
  partition: number;
  firstOffset: number;
  lastOffset: number;
  format: ExportFormat;
}

/** One part as listed in manifest.json. */
export interface ExportManifestPart {
  key: string;
  partition: number;
  first_offset: number;
  last_offset: number;
  records: number;
  bytes: number;
  /** Hex SHA-256 of the part's bytes. */
  sha256: string;
}

/** manifest.json under a batch's prefix. */
export interface ExportManifest {
  batch_id: string;
  format: ExportFormat;
  /** Completions with error null, over all parts. */
  completions: number;
  /** Completions with an error, over all parts. */
  errors: number;
  parts: ExportManifestPart[];
  /** ISO-8601 time of the last rewrite. */
  updated_at: string;
}

export const EXPORT_MANIFEST_NAME = 'manifest.json';

const PART_RE = /^part-(\d{5})-(\d{19})-(\d{19})\.(jsonl|parquet)$/;

function trimSlashes(s: string): string {
  return s.replace(/^\/+|\/+$/g, '');
}

/** Parses `s3://bucket/prefix` or `file:///abs/dir` (a plain path is taken as a directory). */
export function parseExportUri(uri: string): ExportTarget {
  if (uri.startsWith('s3://')) {
    const rest = uri.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new RangeError(`export target ${uri}: "${bucket}" is not a valid S3 bucket name`);
    return { kind: 's3', bucket, prefix: slash < 0 ? '' : trimSlashes(rest.slice(slash + 1)) };
  }
  if (uri.startsWith('file://')) {
    const dir = decodeURIComponent(uri.slice('file://'.length));
    if (dir === '') throw new RangeError(`export target ${uri}: no directory after file://`);
    return { kind: 'file', dir, prefix: '' };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) throw new RangeError(`export target ${uri}: only s3:// and file:// are supported`);
  return { kind: 'file', dir: uri, prefix: '' };
}

/** `<prefix>/batch_id=<id>/`, or `batch_id=<id>/` with an empty prefix. */
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
  return `${batchExportPrefix(prefix, batchId)}${EXPORT_MANIFEST_NAME}`;
}

/** The part a key or file name names, or undefined for anything else (the manifest, stray files). */
export function parseExportPartName(keyOrName: string): ExportPart | undefined {
  const m = PART_RE.exec(keyOrName.slice(keyOrName.lastIndexOf('/') + 1));
  if (!m) return undefined;
  return { partition: Number(m[1]), firstOffset: Number(m[2]), lastOffset: Number(m[3]), format: m[4] as ExportFormat };
}
