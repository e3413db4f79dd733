import { exportManifestKey, exportPartKey } from './part-naming';

describe('part naming', () => {
  const part = { partition: 3, firstOffset: 100, lastOffset: 199, format: 'jsonl' as const };

  it('derives the key from batch, partition and offset range, zero-padded so keys sort by offset', () => {
    expect(exportPartKey('results/', 'b-1', part)).toBe('results/batch_id=b-1/part-00003-0000000000000000100-0000000000000000199.jsonl');
    expect(exportPartKey('', 'b-1', { ...part, format: 'parquet' })).toBe('batch_id=b-1/part-00003-0000000000000000100-0000000000000000199.parquet');
    expect(exportManifestKey('/a/b/', 'b-1')).toBe('a/b/batch_id=b-1/manifest.json');
  });

  it('is the same key for the same range, so a replay overwrites, and differs for another range', () => {
    expect(exportPartKey('p', 'b', { ...part })).toBe(exportPartKey('p', 'b', part));
    expect(exportPartKey('p', 'b', { ...part, lastOffset: 200 })).not.toBe(exportPartKey('p', 'b', part));
    expect(exportPartKey('p', 'b', { ...part, partition: 4 })).not.toBe(exportPartKey('p', 'b', part));
  });
});
