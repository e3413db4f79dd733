// Lines that finish in any order, written in input order: each waits until every earlier one is out.
export class InOrder {
  private next = 0;
  private readonly waiting = new Map<number, string>();
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly write: (line: string) => Promise<void>) {}

  /** Line `index` (0-based, each exactly once) is ready; resolves once it and every line it unblocked are written. */
  put(index: number, line: string): Promise<void> {
    this.waiting.set(index, line);
    const ready: string[] = [];
    for (let l = this.waiting.get(this.next); l !== undefined; l = this.waiting.get(this.next)) {
      ready.push(l);
      this.waiting.delete(this.next);
      this.next += 1;
    }
    // Writes are chained so lines leave in order even while an earlier write waits for drain.
    this.writing = this.writing.then(async () => {
      for (const l of ready) await this.write(l);
    });
    return this.writing;
  }

  /** Lines written or queued so far; all of them once every index up to it was put. */
  get written(): number {
    return this.next;
  }
}
