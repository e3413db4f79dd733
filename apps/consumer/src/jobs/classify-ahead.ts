/** How far ahead of the item being taken work may be started: a count of items and their total size. */
export interface AheadWindow {
  items: number;
  bytes: number;
}

/**
 * Starts work on the items of a fetched batch ahead of the one being taken, within the window, so each item's decode
 * is already under way on the decode thread when its turn comes; results are still taken in order. It tops up once
 * less than half a window is started past the item taken, so the items started together go to the thread in one message.
 */
export class ClassifyAhead<I, O> {
  private readonly started: Array<Promise<O>> = [];
  private startedBytes = 0;
  /** Items before the last one taken, and their size. */
  private taken = 0;
  private takenBytes = 0;

  constructor(
    private readonly items: readonly I[],
    private readonly start: (item: I) => Promise<O>,
    private readonly window: AheadWindow,
    private readonly size: (item: I) => number,
  ) {}

  /** The result of item `i` (taken in order); starts it, and the items after it that the window allows, if not started yet. */
  result(i: number): Promise<O> {
    for (; this.taken < i; this.taken++) this.takenBytes += this.size(this.items[this.taken]);
    const count = () => this.started.length - i;
    const bytes = () => this.startedBytes - this.takenBytes;
    if (count() <= this.window.items / 2 && bytes() <= this.window.bytes / 2) {
      while (this.started.length < this.items.length && (count() <= 0 || (count() < this.window.items && bytes() < this.window.bytes))) this.begin();
    }
    return this.started[i];
  }

  private begin(): void {
    const item = this.items[this.started.length];
    const p = this.start(item);
    p.catch(() => undefined); // an item never taken (fetching paused, partition revoked) must not be an unhandled rejection
    this.started.push(p);
    this.startedBytes += this.size(item);
  }
}
