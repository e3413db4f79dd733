// The compiled-constraint cache's rule, used on both sides of the grammar thread: a bounded LRU of entries keyed by
// a constraint's canonical text, each freed once it is out of the cache and nothing holds it.

/** An entry a HeldLru keeps: counted holds; free() runs once, when it is evicted and unheld. */
export abstract class Held {
  private holds = 0;
  private evicted = false;
  private freed = false;

  hold(): void {
    this.holds++;
  }

  release(): void {
    this.holds--;
    this.freeIfDone();
  }

  /** Out of the cache: freed once nothing holds it. */
  evict(): void {
    this.evicted = true;
    this.freeIfDone();
  }

  get held(): boolean {
    return this.holds > 0;
  }

  protected abstract free(): void;

  private freeIfDone(): void {
    if (!this.evicted || this.holds > 0 || this.freed) return;
    this.freed = true;
    this.free();
  }
}

/** Entries by key, the least recently asked for evicted first; a failed build stays cached, so it fails at once again. */
export class HeldLru<T extends Held> {
  readonly counts = { hits: 0, misses: 0 };
  private readonly entries = new Map<string, Promise<T>>();

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** The entry for key, built on a miss; held for the caller, who releases it. */
  async get(key: string, build: () => Promise<T>): Promise<T> {
    let entry = this.entries.get(key);
    if (entry) {
      this.counts.hits++;
      this.entries.delete(key);
    } else {
      this.counts.misses++;
      entry = build();
      entry.catch(() => undefined);
    }
    this.entries.set(key, entry);
    while (this.entries.size > this.maxEntries) {
      const [oldest, evicted] = this.entries.entries().next().value as [string, Promise<T>];
      this.entries.delete(oldest);
      evicted.then((e) => e.evict(), () => undefined);
    }
    const held = await entry;
    held.hold();
    return held;
  }
}
