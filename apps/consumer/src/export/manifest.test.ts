import { addPart, emptyManifest, type ManifestPartEntry } from './manifest';

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

describe('batch manifest', () => {
  it('adds parts in partition and offset order with totals', () => {
    let m = emptyManifest('b', 'jsonl');
    m = addPart(m, part(1, 0, 9), at(5)).manifest;
    m = addPart(m, part(0, 0, 9), at(6)).manifest;
    m = addPart(m, part(0, 10, 19, { errors: 2 }), at(7)).manifest;
    expect(m.parts.map((p) => p.key)).toEqual(['b/part-0-0-9.jsonl', 'b/part-0-10-19.jsonl', 'b/part-1-0-9.jsonl']);
    expect(m.completions).toBe(28);
    expect(m.errors).toBe(2);
    expect(m.updated_at).toBe(at(7).toISOString());
  });

  it('lets a replayed range replace the entries of an attempt that never committed', () => {
    let m = emptyManifest('b', 'jsonl');
    m = addPart(m, part(0, 0, 9), at(1)).manifest;
    m = addPart(m, part(0, 10, 29, { errors: 3 }), at(2)).manifest; // uploaded, then the worker died before its commit
    m = addPart(m, part(1, 10, 29), at(2)).manifest; // another partition: untouched
    const r = addPart(m, part(0, 10, 19), at(3)); // the replay cut the range differently
    expect(r.dropped).toEqual(['b/part-0-10-29.jsonl']);
    expect(r.manifest.parts.map((p) => p.key)).toEqual(['b/part-0-0-9.jsonl', 'b/part-0-10-19.jsonl', 'b/part-1-10-29.jsonl']);
    expect(r.manifest.completions).toBe(10 + 10 + 20);
    expect(r.manifest.errors).toBe(0);
  });

  it('overwrites the same key in place without dropping it', () => {
    const m = addPart(emptyManifest('b', 'jsonl'), part(0, 0, 9), at(1)).manifest;
    const r = addPart(m, part(0, 0, 9, { sha256: 'y' }), at(2));
    expect(r.dropped).toEqual([]);
    expect(r.manifest.parts).toHaveLength(1);
    expect(r.manifest.parts[0].sha256).toBe('y');
  });
});
