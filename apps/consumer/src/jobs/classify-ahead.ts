/**
 * Starts work on the items of a fetched batch ahead of the one being taken, at most `window` ahead, so each item's
 * decode is already under way on the decode thread when its turn comes; results are still taken in order. It tops up
 * half a window at a time, so the items started together go to the thread in one message.
 */
export class ClassifyAhead<I, O> {
  private readonly started: Array<Promise<O>> = [];

  constructor(
    private readonly items: readonly I[],
    private readonly start: (item: I) => Promise<O>,
    private readonly window: number,
  ) {}

  /** The result of item `i`; once fewer than half a window are started past it, starts the items up to i + window - 1. */
  result(i: number): Promise<O> {
    const end = this.started.length <= i + this.window / 2 ? Math.min(this.items.length, i + this.window) : 0;
    for (let j = this.started.length; j < end; j++) {
      const p = this.start(this.items[j]);
      p.catch(() => undefined); // an item never taken (fetching paused, partition revoked) must not be an unhandled rejection
      this.started.push(p);
    }
    return this.started[i];
  }
}
