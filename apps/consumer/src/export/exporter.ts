import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { ExportError } from '../errors';
import type { Completion } from '../jobs/schema';
import { addPart, emptyManifest, type ExportManifest, type ManifestPartEntry } from './manifest';
import type { ObjectStore } from './object-store';
import { CONTENT_TYPES, encodePart } from './part-encoding';
import { exportManifestKey, exportPartKey, type ExportFormat } from '@sluice/schema';
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

/**
 * Writes one committed range of a partition as parts (one per batch in the range) and records each in its batch's
 * manifest. Called before the range's offsets are committed, so a crash in between replays the same range and
 * the manifest's supersede rule keeps exactly one copy of every record.
 */
export class Exporter {
  // Manifest updates of one batch are serialized in this process; across processes conditional writes guard them.
  private readonly batchLocks = new Map<string, Promise<unknown>>();

  constructor(private readonly store: ObjectStore, private readonly options: ExporterOptions, private readonly log: Logger) {}

  get location(): string {
    return this.store.location;
  }

  async exportRange(partition: number, items: ExportItem[]): Promise<void> {
    const byBatch = new Map<string, ExportItem[]>();
    for (const it of items) {
      const list = byBatch.get(it.completion.batch_id);
      if (list) list.push(it);
      else byBatch.set(it.completion.batch_id, [it]);
    }
    await Promise.all([...byBatch].map(([batchId, list]) => this.exportPart(batchId, partition, list)));
  }

  private async exportPart(batchId: string, partition: number, items: ExportItem[]): Promise<void> {
    const { prefix, format, workerId } = this.options;
    const firstOffset = Number(items[0].offset);
    const lastOffset = Number(items[items.length - 1].offset);
    const key = exportPartKey(prefix, batchId, { partition, firstOffset, lastOffset, format });
    const body = await encodePart(items.map((i) => i.completion), format);
    await this.retrying(`upload ${key}`, () => this.store.put(key, body, CONTENT_TYPES[format]));
    const part: ManifestPartEntry = {
      key,
      partition,
      first_offset: firstOffset,
      last_offset: lastOffset,
      records: items.length,
      bytes: body.length,
      sha256: createHash('sha256').update(body).digest('hex'),
      errors: items.filter((i) => i.completion.error).length,
    };
    const dropped = await this.locked(batchId, () => this.updateManifest(batchId, (m) => addPart(m, part, new Date())));
    for (const old of dropped) await this.retrying(`delete superseded ${old}`, () => this.store.delete(old));
    this.log.debug({ batch_id: batchId, key, records: items.length, worker_id: workerId }, 'part exported');
  }

  private async updateManifest(batchId: string, change: (m: ExportManifest) => { manifest: ExportManifest; dropped: string[] }): Promise<string[]> {
    const key = exportManifestKey(this.options.prefix, batchId);
    // Optimistic concurrency: read, change, write only if nobody wrote in between; on a conflict read again.
    for (let round = 1; round <= 20; round++) {
      const current = await this.retrying(`read ${key}`, () => this.store.get(key));
      const base = current ? (JSON.parse(current.body.toString('utf8')) as ExportManifest) : emptyManifest(batchId, this.options.format);
      const { manifest, dropped } = change(base);
      const body = Buffer.from(JSON.stringify(manifest, null, 1));
      if (await this.retrying(`write ${key}`, () => this.store.putIfUnchanged(key, body, 'application/json', current?.version))) return dropped;
      this.log.debug({ batch_id: batchId, key, round }, 'manifest changed under us, retrying');
    }
    throw new ExportError('MANIFEST_CONFLICT', `${this.store.location}/${key}: gave up after 20 conflicting concurrent updates`);
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
      return await withRetry(fn, this.options.retry, (err, attempt, delayMs) =>
        this.log.warn({ err, attempt, delay_ms: delayMs, target: this.store.location }, `${what} failed, retrying`),
      );
    } catch (err) {
      throw new ExportError('UPLOAD_FAILED', `${this.store.location}: ${what} failed after ${this.options.retry.attempts} attempts: ${(err as Error).message}`, { cause: err });
    }
  }
}
