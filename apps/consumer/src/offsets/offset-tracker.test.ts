import { OffsetError } from '../errors';
import { OffsetTracker } from './offset-tracker';

// Small deterministic PRNG (mulberry32) so a failing seed can be replayed.
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(xs: T[], rand: () => number): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

describe('OffsetTracker', () => {
  it('commits only past a job when it and every earlier job are done', () => {
    const t = new OffsetTracker<string>(0);
    for (const o of [10n, 11n, 12n]) t.track(o);
    t.complete(12n, 'c');
    t.complete(11n, 'b');
    expect(t.donePrefix()).toBeUndefined();
    t.complete(10n, 'a');
    const p = t.donePrefix();
    expect(p).toEqual({ firstOffset: 10n, lastOffset: 12n, nextOffset: 13n, items: [{ offset: 10n, value: 'a' }, { offset: 11n, value: 'b' }, { offset: 12n, value: 'c' }] });
    t.release(12n);
    expect(t.size).toBe(0);
    expect(t.committedOffset).toBe(13n);
  });

  it('handles offset gaps (transaction markers, compaction)', () => {
    const t = new OffsetTracker<number>(1);
    t.track(5n);
    t.track(9n);
    t.complete(9n, 9);
    t.complete(5n, 5);
    expect(t.donePrefix()?.nextOffset).toBe(10n);
  });

  it('keeps items until release, so a failed commit can be retried', () => {
    const t = new OffsetTracker<number>(0);
    t.track(0n);
    t.complete(0n, 0);
    expect(t.donePrefix()?.items).toHaveLength(1);
    expect(t.donePrefix()?.items).toHaveLength(1);
    t.release(0n);
    expect(t.donePrefix()).toBeUndefined();
  });

  it('caps a prefix at a limit', () => {
    const t = new OffsetTracker<number>(0);
    for (let i = 0n; i < 10n; i++) {
      t.track(i);
      t.complete(i, Number(i));
    }
    expect(t.donePrefix(4)).toMatchObject({ firstOffset: 0n, lastOffset: 3n, nextOffset: 4n });
  });

  it('rejects out-of-order tracking, unknown and double completions with typed errors', () => {
    const t = new OffsetTracker<number>(2);
    t.track(3n);
    expect(() => t.track(3n)).toThrow(OffsetError);
    expect(() => t.complete(4n, 0)).toThrow(/offset 4 is not tracked/);
    t.complete(3n, 1);
    expect(() => t.complete(3n, 1)).toThrow(/completed twice/);
  });

  it('knows which offsets were already seen and which still run', () => {
    const t = new OffsetTracker<number>(0, 100n);
    expect(t.hasSeen(99n)).toBe(true);
    expect(t.hasSeen(100n)).toBe(false);
    t.track(100n);
    t.track(101n);
    t.complete(101n, 1);
    expect(t.hasSeen(101n)).toBe(true);
    expect(t.unfinished()).toEqual([100n]);
    expect(t.doneWatermark).toBe(100n);
  });

  it('property: under any completion order and any commit timing, commits are exactly the done prefix', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rand = rng(seed);
      const n = 1 + Math.floor(rand() * 60);
      // Random increasing offsets with gaps.
      const offsets: bigint[] = [];
      let o = BigInt(Math.floor(rand() * 1000));
      for (let i = 0; i < n; i++) {
        offsets.push(o);
        o += 1n + BigInt(Math.floor(rand() * 3));
      }
      const t = new OffsetTracker<bigint>(0);
      offsets.forEach((x) => t.track(x));
      const done = new Set<bigint>();
      const committed: bigint[] = [];
      for (const x of shuffle(offsets, rand)) {
        t.complete(x, x);
        done.add(x);
        if (rand() < 0.4) {
          const p = t.donePrefix(1 + Math.floor(rand() * 10));
          if (p) {
            // Every committed item is done, and every offset before the commit position is done.
            for (const y of offsets) if (y < p.nextOffset) expect(done.has(y)).toBe(true);
            committed.push(...p.items.map((it) => it.value));
            t.release(p.lastOffset);
          }
        }
      }
      for (let p = t.donePrefix(); p; p = t.donePrefix()) {
        committed.push(...p.items.map((it) => it.value));
        t.release(p.lastOffset);
      }
      // Each job committed exactly once, in offset order, and the position ends after the last.
      expect(committed).toEqual(offsets);
      expect(t.committedOffset).toBe(offsets[offsets.length - 1] + 1n);
      expect(t.size).toBe(0);
    }
  });
});
