// The offset commit's metadata string: which export parts the committed range wrote, so the next owner of the
// partition can list them in their manifests if the committer died between its commit and its manifest update.
import { exportPartKey, type ExportFormat } from '@sluice/schema';
import { ConsumerError } from '../errors';

/** Kafka's offset.metadata.max.bytes defaults to 4096; a note stays under it with room to spare. */
export const MAX_NOTE_BYTES = 4000;

export type CommitNoteErrorCode = 'BAD_NOTE' | 'NOTE_TOO_LARGE' | 'PART_MISSING';

export class CommitNoteError extends ConsumerError {
  override readonly name = 'CommitNoteError';
  constructor(override readonly code: CommitNoteErrorCode, message: string) {
    super(code, message);
  }
}

/** One part of a committed range: its batch, its offset range in the partition and its counts. */
export interface NotedPart {
  batchId: string;
  firstOffset: number;
  lastOffset: number;
  records: number;
  errors: number;
}

export interface CommitNote {
  prefix: string;
  format: ExportFormat;
  parts: NotedPart[];
}

type Wire = { v: 1; x: string; f: ExportFormat; p: Array<[string, number, number, number, number]> };

const wire = (n: CommitNote): Wire => ({ v: 1, x: n.prefix, f: n.format, p: n.parts.map((p) => [p.batchId, p.firstOffset, p.lastOffset, p.records, p.errors]) });

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

export function encodeCommitNote(n: CommitNote): string {
  const s = JSON.stringify(wire(n));
  if (bytes(s) > MAX_NOTE_BYTES) throw new CommitNoteError('NOTE_TOO_LARGE', `commit note of ${n.parts.length} parts is ${bytes(s)} bytes, over ${MAX_NOTE_BYTES}`);
  return s;
}

const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;

/** The note in an offset's metadata; undefined when the metadata is not a note (empty, or written by something else). */
export function decodeCommitNote(metadata: string | null | undefined, where: string): CommitNote | undefined {
  if (!metadata || !metadata.startsWith('{"v":')) return undefined;
  let w: Partial<Wire>;
  try {
    w = JSON.parse(metadata) as Partial<Wire>;
  } catch {
    throw new CommitNoteError('BAD_NOTE', `${where}: offset metadata is not valid JSON: ${metadata.slice(0, 80)}`);
  }
  const partsOk = Array.isArray(w.p) && w.p.every((p) => Array.isArray(p) && p.length === 5 && typeof p[0] === 'string' && p.slice(1).every(isCount));
  if (w.v !== 1 || typeof w.x !== 'string' || (w.f !== 'jsonl' && w.f !== 'parquet') || !partsOk) {
    throw new CommitNoteError('BAD_NOTE', `${where}: offset metadata is not a version 1 commit note: ${metadata.slice(0, 80)}`);
  }
  return { prefix: w.x, format: w.f, parts: w.p!.map(([batchId, firstOffset, lastOffset, records, errors]) => ({ batchId, firstOffset, lastOffset, records, errors })) };
}

export function notedPartKey(n: CommitNote, partition: number, p: NotedPart): string {
  return exportPartKey(n.prefix, p.batchId, { partition, firstOffset: p.firstOffset, lastOffset: p.lastOffset, format: n.format });
}

/**
 * How many leading items a range may commit so that its note fits: the range is cut before the first item of a batch
 * whose entry would not fit (each entry sized with the range's largest numbers, so later items never overflow it).
 * At least one batch always fits unless a single batch id is larger than the note itself.
 */
export function itemsThatFit(prefix: string, format: ExportFormat, items: Array<{ offset: bigint; batchId: string | undefined }>): number {
  const maxOffset = items.length > 0 ? Number(items[items.length - 1].offset) : 0;
  let size = bytes(JSON.stringify(wire({ prefix, format, parts: [] })));
  const seen = new Set<string>();
  for (const [i, it] of items.entries()) {
    if (it.batchId === undefined || seen.has(it.batchId)) continue;
    const entry = bytes(JSON.stringify([it.batchId, maxOffset, maxOffset, items.length, items.length])) + (seen.size > 0 ? 1 : 0);
    if (size + entry > MAX_NOTE_BYTES) {
      if (seen.size === 0) throw new CommitNoteError('NOTE_TOO_LARGE', `batch id ${it.batchId.slice(0, 80)}… is too long to be noted in an offset commit (${MAX_NOTE_BYTES} bytes)`);
      return i;
    }
    size += entry;
    seen.add(it.batchId);
  }
  return items.length;
}
