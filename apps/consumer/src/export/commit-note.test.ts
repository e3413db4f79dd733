import { CommitNoteError, decodeCommitNote, encodeCommitNote, itemsThatFit, MAX_NOTE_BYTES, notedPartKey, type CommitNote } from './commit-note';

const note: CommitNote = {
  prefix: 'exports/run-1',
  format: 'jsonl',
  parts: [
    { batchId: 'b1', firstOffset: 104, lastOffset: 111, records: 5, errors: 1 },
    { batchId: 'b2', firstOffset: 105, lastOffset: 110, records: 3, errors: 0 },
  ],
};

describe('commit note (offset commit metadata)', () => {
  it('round-trips and names the parts by the export layout', () => {
    const s = encodeCommitNote(note);
    expect(decodeCommitNote(s, 'p0')).toEqual(note);
    expect(notedPartKey(note, 1, note.parts[0])).toBe('exports/run-1/batch_id=b1/part-00001-0000000000000000104-0000000000000000111.jsonl');
  });

  it('reads empty or foreign metadata as no note, and refuses a broken note with a typed error', () => {
    expect(decodeCommitNote('', 'p0')).toBeUndefined();
    expect(decodeCommitNote(null, 'p0')).toBeUndefined();
    expect(decodeCommitNote('written by another tool', 'p0')).toBeUndefined();
    expect(() => decodeCommitNote('{"v":1,"x":"p"', 'partition 3')).toThrow(CommitNoteError);
    expect(() => decodeCommitNote('{"v":1,"x":"p","f":"csv","p":[]}', 'partition 3')).toThrow(/partition 3: offset metadata is not a version 1 commit note/);
    expect(() => decodeCommitNote('{"v":1,"x":"p","f":"jsonl","p":[["b",1,2,-1,0]]}', 'p0')).toThrow(expect.objectContaining({ code: 'BAD_NOTE' }));
  });

  it('cuts a range with too many batches at a batch boundary so its note fits', () => {
    const id = (i: number) => `batch-${String(i).padStart(3, '0')}-${'x'.repeat(40)}`;
    // 400 items over 200 batches, each batch twice; dead letters (no batch) in between.
    const items = Array.from({ length: 400 }, (_, i) => ({ offset: BigInt(1_000_000 + i), batchId: i % 7 === 3 ? undefined : id(i % 200) }));
    const n = itemsThatFit('prefix', 'jsonl', items);
    expect(n).toBeGreaterThan(10);
    expect(n).toBeLessThan(items.length);
    const kept = items.slice(0, n);
    const batches = [...new Set(kept.flatMap((i) => (i.batchId ? [i.batchId] : [])))];
    expect(items[n].batchId).toBeDefined();
    expect(batches).not.toContain(items[n].batchId); // the cut is before a new batch's first item
    const worst = encodeCommitNote({ prefix: 'prefix', format: 'jsonl', parts: batches.map((b) => ({ batchId: b, firstOffset: 1_000_000, lastOffset: 1_000_399, records: n, errors: n })) });
    expect(Buffer.byteLength(worst)).toBeLessThanOrEqual(MAX_NOTE_BYTES);
    expect(itemsThatFit('prefix', 'jsonl', items.slice(0, 20))).toBe(20);
  });

  it('refuses a batch id too long for any note', () => {
    expect(() => itemsThatFit('p', 'jsonl', [{ offset: 0n, batchId: 'b'.repeat(MAX_NOTE_BYTES) }])).toThrow(expect.objectContaining({ code: 'NOTE_TOO_LARGE' }));
    expect(() => encodeCommitNote({ prefix: 'p', format: 'jsonl', parts: [{ batchId: 'b'.repeat(MAX_NOTE_BYTES), firstOffset: 0, lastOffset: 0, records: 1, errors: 0 }] })).toThrow(CommitNoteError);
  });
});
