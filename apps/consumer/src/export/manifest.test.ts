import { addParts, emptyManifest, type ExportManifest, type ManifestPartEntry } from './manifest';

const part = (partition: number, first: number, last: number, o: Partial<ManifestPartEntry> = {}): ManifestPartEntry => ({
  key: `b/part-${partition}-${first}-${last}.jsonl`,
  partition,
  first_offset: first,
  last_offset: last,
  records: last - first + 1,
  errors: 0,
  bytes: 10,
  sha256: 'x',
  ...o,
});
const at = (s: number) => new Date(s * 1000);
const add = (m: ExportManifest, p: ManifestPartEntry, t = 1, replace = true) => addParts(m, [p], at(t), replace) ?? m;
const totals = (m: ExportManifest) => ({ keys: m.parts.map((p) => p.key), completions: m.completions, errors: m.errors });

describe('batch manifest', () => {
  it('adds parts in partition and offset order with totals', () => {
    let m = emptyManifest('b', 'jsonl');
    m = add(m, part(1, 0, 9), 5);
    m = add(m, part(0, 0, 9), 6);
    m = add(m, part(0, 10, 19, { errors: 2 }), 7);
    expect(m.parts.map((p) => p.key)).toEqual(['b/part-0-0-9.jsonl', 'b/part-0-10-19.jsonl', 'b/part-1-0-9.jsonl']);
    expect(m.completions).toBe(28);
    expect(m.errors).toBe(2);
    expect(m.updated_at).toBe(at(7).toISOString());
  });

  it('is idempotent: adding a listed part again changes nothing (no write needed)', () => {
    const m = add(emptyManifest('b', 'jsonl'), part(0, 0, 9));
    expect(addParts(m, [part(0, 0, 9)], at(2), true)).toBeUndefined();
    expect(addParts(m, [part(0, 0, 9)], at(2), false)).toBeUndefined();
    expect(addParts(m, [part(0, 0, 9, { sha256: 'other' })], at(2), false)).toBeUndefined(); // a repair never replaces
  });

  it('is commutative: any order and repetition of adds gives the same manifest', () => {
    const entries = [part(0, 0, 9), part(0, 10, 19, { errors: 3 }), part(1, 0, 4), part(2, 7, 7), part(0, 20, 29)];
    const expected = totals(addParts(emptyManifest('b', 'jsonl'), entries, at(1), true)!);
    for (let seed = 1; seed <= 50; seed++) {
      const order = [...entries, ...entries.slice(0, seed % 4)].sort((a, b) => ((a.first_offset * 31 + a.partition * 7 + seed) % 11) - ((b.first_offset * 31 + b.partition * 7 + seed) % 11));
      const m = order.reduce((acc, e, i) => add(acc, e, i, seed % 2 === 0), emptyManifest('b', 'jsonl'));
      expect(totals(m)).toEqual(expected);
    }
    expect(expected).toEqual({ keys: ['b/part-0-0-9.jsonl', 'b/part-0-10-19.jsonl', 'b/part-0-20-29.jsonl', 'b/part-1-0-4.jsonl', 'b/part-2-7-7.jsonl'], completions: 33, errors: 3 });
  });

  it('never drops a listed part of the same partition, whatever is added after it', () => {
    // The old supersede rule let a revoked worker's late part (starting earlier) drop the new owner's committed ones.
    let m = emptyManifest('b', 'jsonl');
    for (const p of [part(1, 104, 111), part(1, 112, 119), part(1, 120, 127)]) m = add(m, p);
    m = add(m, part(1, 96, 103));
    expect(m.parts.map((p) => p.first_offset)).toEqual([96, 104, 112, 120]);
    expect(m.completions).toBe(32);
  });

  it('lets the committer replace an entry of the same key, a repair only fill a missing one', () => {
    const m = add(emptyManifest('b', 'jsonl'), part(0, 0, 9, { sha256: 'orphan', errors: 1 }));
    const replaced = addParts(m, [part(0, 0, 9, { sha256: 'ours' })], at(2), true)!;
    expect(replaced.parts).toEqual([expect.objectContaining({ sha256: 'ours' })]);
    expect(replaced.errors).toBe(0);
    expect(addParts(m, [part(0, 0, 9, { sha256: 'ours' })], at(2), false)).toBeUndefined();
  });
});
