import { OffsetError } from '../errors';

interface Entry<T> {
  offset: bigint;
  done: boolean;
  value?: T;
}

/** The done prefix of a partition: what one commit may cover. `nextOffset` is the Kafka commit position. */
export interface DonePrefix<T> {
  firstOffset: bigint;
  lastOffset: bigint;
  nextOffset: bigint;
  items: Array<{ offset: bigint; value: T }>;
}

/**
 * Offset watermark of one partition. Jobs arrive in offset order and finish in any order; the committable
 * position only moves past a job once it and every earlier job of the partition are done. Offsets need not
 * be contiguous (compaction, transaction markers), only increasing.
 */
export class OffsetTracker<T> {
  private entries: Array<Entry<T>> = [];
  private head = 0;
  private readonly byOffset = new Map<bigint, Entry<T>>();
  private lastTracked: bigint | undefined;
  private committed: bigint | undefined;

  /** `committedOffset`: the partition's committed position when it was assigned, if known. */
  constructor(readonly partition: number, committedOffset?: bigint) {
    this.committed = committedOffset;
  }

  track(offset: bigint): void {
    if (this.lastTracked !== undefined && offset <= this.lastTracked) {
      throw new OffsetError('OUT_OF_ORDER', `partition ${this.partition}: offset ${offset} tracked after ${this.lastTracked}`);
    }
    const entry: Entry<T> = { offset, done: false };
    this.entries.push(entry);
    this.byOffset.set(offset, entry);
    this.lastTracked = offset;
  }

  complete(offset: bigint, value: T): void {
    const entry = this.byOffset.get(offset);
    if (!entry) throw new OffsetError('UNKNOWN_OFFSET', `partition ${this.partition}: offset ${offset} is not tracked`);
    if (entry.done) throw new OffsetError('ALREADY_DONE', `partition ${this.partition}: offset ${offset} completed twice`);
    entry.done = true;
    entry.value = value;
  }

  /** Whether an offset was already taken (so a redelivery after a rebalance is skipped, not run twice). */
  hasSeen(offset: bigint): boolean {
    return (this.lastTracked !== undefined && offset <= this.lastTracked) || (this.committed !== undefined && offset < this.committed);
  }

  /** The longest run of done entries at the head, capped at `limit` items; nothing is removed until `release`. */
  donePrefix(limit = Number.POSITIVE_INFINITY): DonePrefix<T> | undefined {
    const items: Array<{ offset: bigint; value: T }> = [];
    for (let i = this.head; i < this.entries.length && items.length < limit; i++) {
      const e = this.entries[i];
      if (!e.done) break;
      items.push({ offset: e.offset, value: e.value as T });
    }
    if (items.length === 0) return undefined;
    const last = items[items.length - 1].offset;
    return { firstOffset: items[0].offset, lastOffset: last, nextOffset: last + 1n, items };
  }

  /** Drops the head entries up to and including `lastOffset` once their commit succeeded. */
  release(lastOffset: bigint): void {
    while (this.head < this.entries.length && this.entries[this.head].offset <= lastOffset) {
      const e = this.entries[this.head];
      if (!e.done) throw new OffsetError('UNKNOWN_OFFSET', `partition ${this.partition}: release past unfinished offset ${e.offset}`);
      this.byOffset.delete(e.offset);
      this.head++;
    }
    this.committed = lastOffset + 1n;
    // Compact now and then so the array does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  /** Kafka position committed through this tracker (or given at assignment). */
  get committedOffset(): bigint | undefined {
    return this.committed;
  }

  /** Offset after the done prefix: what a commit now would write. */
  get doneWatermark(): bigint | undefined {
    return this.donePrefix()?.nextOffset ?? this.committed;
  }

  /** Tracked and not yet released (in flight or done but uncommitted). */
  get size(): number {
    return this.entries.length - this.head;
  }

  /** Offsets still running, in order: what a revocation must abort. */
  unfinished(): bigint[] {
    const out: bigint[] = [];
    for (let i = this.head; i < this.entries.length; i++) if (!this.entries[i].done) out.push(this.entries[i].offset);
    return out;
  }
}
