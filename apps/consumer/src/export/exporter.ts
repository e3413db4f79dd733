import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { ExportError } from '../errors';
import { LogLimiter } from '../observability/log-limiter';
import type { Completion } from '../jobs/schema';
import { CommitNoteError, decodeCommitNote, encodeCommitNote, itemsThatFit, notedPartKey, type CommitNote } from './commit-note';
import { addParts, emptyManifest, type ExportManifest, type ManifestPartEntry } from './manifest';
import type { ObjectStore } from './object-store';
import { CONTENT_TYPES, encodePart } from './part-encoding';
import { batchExportPrefix, exportManifestKey, exportPartKey, type ExportFormat } from '@sluice/schema';
import { withRetry, type RetryPolicy } from './retry';

export interface ExporterOptions {
  prefix: string;
  format: ExportFormat;
  workerId: string;
  retry: RetryPolicy;
}

export interface ExportItem {
  offset: bigint;
  completion: Completion;
}

export interface StagedPart {
  batchId: string;
  entry: ManifestPartEntry;
  body: Buffer;
  /** The key already held an object (an earlier attempt at the same range): ours replaces it once we have committed. */
  taken: boolean;
}

/** A range's parts, written but not yet listed, and the note that goes into the range's offset commit. */
export interface StagedRange {
  partition: number;
  parts: StagedPart[];
  /** Offset commit metadata naming the parts ('' when the range has no completions). */
  note: string;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

// Committed parts are also recorded one small object each (the manifest entry), outside the batch folders readers list:
// <prefix>/_committed/batch_id=<id>/<part name>.json. Every manifest writer merges in the records its manifest lacks.
const markerFolder = (prefix: string, batchId: string) => batchExportPrefix(prefix ? `${prefix}/_committed` : '_committed', batchId);
const markerKey = (prefix: string, batchId: string, partKey: string) => `${markerFolder(prefix, batchId)}${partKey.slice(partKey.lastIndexOf('/') + 1)}.json`;
const partKeyOfMarker = (prefix: string, batchId: string, key: string) => `${batchExportPrefix(prefix, batchId)}${key.slice(key.lastIndexOf('/') + 1, -'.json'.length)}`;

/**
 * Exports a partition's committed ranges, one part per batch in the range, in three steps around the offset commit:
 * stage (write the part objects, create-only, so a revoked worker still finishing its step never overwrites a part
 * someone else committed), then the caller commits the range with the stage's note as offset metadata, then publish
 * (list the parts in their batch manifests). A manifest therefore lists only committed parts; an attempt whose commit
 * failed or was fenced leaves unlisted objects that readers ignore. Committed ranges of a partition never overlap, so
 * manifest updates are a set union by key. If the committer dies between commit and publish, the partition's next
 * owner reads the note from the committed offset and lists the parts (repair).
 * Conditional writes are not atomic on every S3-compatible server (S3Proxy's filesystem backend lets two racing
 * If-Match PUTs both succeed), so a manifest update is not trusted until a later read shows every committed part
 * listed: each publish first records its part under _committed/, and every manifest writer loops until the manifest
 * holds its own entries and every recorded part. Whoever writes last has seen every record made before its write.
 */
export class Exporter {
  // Manifest updates of one batch are serialized in this process; across processes the write-and-check loop guards them.
  private readonly batchLocks = new Map<string, Promise<unknown>>();
  // Per batch, the parts waiting for its next manifest update: partitions committing together share one update.
  private readonly waiting = new Map<string, { entries: ManifestPartEntry[]; listed: Promise<void> }>();

  private readonly quiet = new LogLimiter();

  constructor(private readonly store: ObjectStore, private readonly options: ExporterOptions, private readonly log: Logger) {}

  get location(): string {
    return this.store.location;
  }

  /** How many leading items of a range to commit at once so that the commit's note fits in the offset metadata. */
  itemsThatFit(items: Array<{ offset: bigint; batchId: string | undefined }>): number {
    return itemsThatFit(this.options.prefix, this.options.format, items);
  }

  async stageRange(partition: number, items: ExportItem[]): Promise<StagedRange> {
    const byBatch = new Map<string, ExportItem[]>();
    for (const it of items) {
      const list = byBatch.get(it.completion.batch_id);
      if (list) list.push(it);
      else byBatch.set(it.completion.batch_id, [it]);
    }
    const parts = await Promise.all([...byBatch].map(([batchId, list]) => this.stagePart(batchId, partition, list)));
    if (parts.length === 0) return { partition, parts, note: '' };
    const { prefix, format } = this.options;
    const note = encodeCommitNote({
      prefix,
      format,
      parts: parts.map(({ batchId, entry: e }) => ({ batchId, firstOffset: e.first_offset, lastOffset: e.last_offset, records: e.records, errors: e.errors })),
    });
    return { partition, parts, note };
  }

  private async stagePart(batchId: string, partition: number, items: ExportItem[]): Promise<StagedPart> {
    const { prefix, format } = this.options;
    const firstOffset = Number(items[0].offset);
    const lastOffset = Number(items[items.length - 1].offset);
    const key = exportPartKey(prefix, batchId, { partition, firstOffset, lastOffset, format });
    const body = await encodePart(items.map((i) => i.completion), format);
    const created = await this.retrying(`upload ${key}`, () => this.store.putIfUnchanged(key, body, CONTENT_TYPES[format], undefined));
    const entry: ManifestPartEntry = {
      key,
      partition,
      first_offset: firstOffset,
      last_offset: lastOffset,
      records: items.length,
      bytes: body.length,
      sha256: sha256(body),
      errors: items.filter((i) => i.completion.error).length,
    };
    return { batchId, entry, body, taken: !created };
  }

  /** After the range's commit: our bytes go where an earlier attempt's object sat, then every part is listed. */
  async publish(staged: StagedRange): Promise<void> {
    const { prefix, format, workerId } = this.options;
    await Promise.all(
      staged.parts.map(async ({ batchId, entry, body, taken }) => {
        // Not every store's create-only write is atomic: a racing attempt's bytes may sit at our key even if ours went in first.
        if (taken || !(await this.retrying(`check ${entry.key}`, () => this.store.holds(entry.key, body)))) {
          await this.retrying(`upload ${entry.key}`, () => this.store.put(entry.key, body, CONTENT_TYPES[format]));
        }
        const marker = markerKey(prefix, batchId, entry.key);
        await this.retrying(`upload ${marker}`, () => this.store.put(marker, Buffer.from(JSON.stringify(entry)), 'application/json'));
        await this.listParts(batchId, entry);
        this.log.debug({ batch_id: batchId, key: entry.key, records: entry.records, worker_id: workerId }, 'part exported');
      }),
    );
  }

  /**
   * Lists the parts a committed offset's note names, where a manifest misses them; returns the keys it added.
   * Counts come from the note, size and checksum from the object as it is now (unless the committer recorded it).
   */
  async repair(partition: number, metadata: string | null | undefined): Promise<string[]> {
    let note: CommitNote | undefined;
    try {
      note = decodeCommitNote(metadata, `partition ${partition}`);
    } catch (err) {
      this.log.error({ err, partition }, 'cannot read the committed offset metadata; its parts are not checked');
      return [];
    }
    if (!note) return [];
    const { prefix, format } = note;
    const added: string[] = [];
    for (const p of note.parts) {
      const key = notedPartKey(note, partition, p);
      const manifestKey = exportManifestKey(prefix, p.batchId);
      const manifest = await this.readJson<ExportManifest>(manifestKey);
      if (manifest?.value.parts.some((e) => e.key === key)) continue;
      const marker = markerKey(prefix, p.batchId, key);
      if (!(await this.retrying(`read ${marker}`, () => this.store.get(marker)))) {
        const object = await this.retrying(`read ${key}`, () => this.store.get(key));
        if (!object) {
          const err = new CommitNoteError('PART_MISSING', `${this.store.location}/${key}: committed (partition ${partition} offset metadata) but the object is gone`);
          this.log.error({ err, batch_id: p.batchId, partition }, 'a committed part is missing; it cannot be listed');
          continue;
        }
        const entry: ManifestPartEntry = { key, partition, first_offset: p.firstOffset, last_offset: p.lastOffset, records: p.records, errors: p.errors, bytes: object.body.length, sha256: sha256(object.body) };
        await this.retrying(`upload ${marker}`, () => this.store.put(marker, Buffer.from(JSON.stringify(entry)), 'application/json'));
      }
      await this.locked(p.batchId, () => this.updateManifest(prefix, format, p.batchId, [], false));
      added.push(key);
      this.log.warn({ batch_id: p.batchId, key, partition }, 'listed a committed part its committer did not get to list');
    }
    return added;
  }

  /**
   * Adds `mine` (replacing entries of the same key when `replace`) and every recorded committed part the manifest
   * lacks; writes conditionally and repeats until a read finds nothing to add, which is the check that the write held.
   */
  private async updateManifest(prefix: string, format: ExportFormat, batchId: string, mine: ManifestPartEntry[], replace: boolean): Promise<void> {
    const key = exportManifestKey(prefix, batchId);
    const folder = markerFolder(prefix, batchId);
    for (let round = 1; round <= 20; round++) {
      const current = await this.readJson<ExportManifest>(key);
      const base = current?.value ?? emptyManifest(batchId, format);
      const known = new Set([...base.parts, ...mine].map((p) => p.key));
      const unlisted = (await this.retrying(`list ${folder}`, () => this.store.list(folder))).filter((k) => !known.has(partKeyOfMarker(prefix, batchId, k)));
      const recorded: ManifestPartEntry[] = [];
      for (const k of unlisted) {
        const o = await this.readJson<ManifestPartEntry>(k);
        if (o) recorded.push(o.value);
      }
      const now = new Date();
      const withMine = addParts(base, mine, now, replace);
      const manifest = addParts(withMine ?? base, recorded, now, false) ?? withMine;
      if (!manifest) return;
      const body = Buffer.from(JSON.stringify(manifest, null, 1));
      const written = await this.retrying(`write ${key}`, () => this.store.putIfUnchanged(key, body, 'application/json', current?.version));
      this.log.debug({ batch_id: batchId, key, round, written }, written ? 'manifest written, checking it held' : 'manifest changed under us, retrying');
    }
    throw new ExportError('MANIFEST_CONFLICT', `${this.store.location}/${key}: gave up after 20 conflicting concurrent updates`);
  }

  /** A JSON object and its version; a body that does not parse is read again (S3Proxy can serve a file mid-write). */
  private readJson<T>(key: string): Promise<{ value: T; version: string } | undefined> {
    return this.retrying(`read ${key}`, async () => {
      const o = await this.store.get(key);
      return o && { value: JSON.parse(o.body.toString('utf8')) as T, version: o.version };
    });
  }

  /** Lists a committed part in its batch manifest, in one update with every part that arrives before that update starts. */
  private listParts(batchId: string, entry: ManifestPartEntry): Promise<void> {
    let group = this.waiting.get(batchId);
    if (!group) {
      const { prefix, format } = this.options;
      const g = { entries: [] as ManifestPartEntry[], listed: Promise.resolve() };
      g.listed = this.locked(batchId, () => {
        if (this.waiting.get(batchId) === g) this.waiting.delete(batchId);
        return this.updateManifest(prefix, format, batchId, g.entries, true);
      });
      this.waiting.set(batchId, g);
      group = g;
    }
    group.entries.push(entry);
    return group.listed;
  }

  private locked<T>(batchId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.batchLocks.get(batchId) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.batchLocks.set(batchId, tail);
    void tail.then(() => {
      if (this.batchLocks.get(batchId) === tail) this.batchLocks.delete(batchId);
    });
    return next;
  }

  private async retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      const result = await withRetry(fn, this.options.retry, (err, attempt, delayMs) => {
        // An outage fails every operation of every commit: its lines come at a decaying rate, not one per retry.
        const heldBack = this.quiet.take('retry');
        if (heldBack !== undefined) this.log.warn({ err, attempt, delay_ms: delayMs, target: this.store.location, held_back: heldBack }, `${what} failed, retrying`);
      });
      this.quiet.reset('retry');
      return result;
    } catch (err) {
      throw new ExportError('UPLOAD_FAILED', `${this.store.location}: ${what} failed after ${this.options.retry.attempts} attempts: ${(err as Error).message}`, { cause: err });
    }
  }
}
