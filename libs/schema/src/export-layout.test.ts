import { batchExportPrefix, exportManifestKey, exportPartKey, parseExportPartName, parseExportUri } from './export-layout';

describe('export layout', () => {
  it('names parts by partition and offset range, sortable and parseable', () => {
    const key = exportPartKey('results/', 'b-1', { partition: 3, firstOffset: 100, lastOffset: 199, format: 'jsonl' });
    expect(key).toBe('results/batch_id=b-1/part-00003-0000000000000000100-0000000000000000199.jsonl');
    expect(parseExportPartName(key)).toEqual({ partition: 3, firstOffset: 100, lastOffset: 199, format: 'jsonl' });
    expect(parseExportPartName('results/batch_id=b-1/manifest.json')).toBeUndefined();
  });

  it('puts batches at the root when the prefix is empty', () => {
    expect(batchExportPrefix('', 'b')).toBe('batch_id=b/');
    expect(exportManifestKey('/a/b/', 'b')).toBe('a/b/batch_id=b/manifest.json');
  });

  it('parses s3 and file targets', () => {
    expect(parseExportUri('s3://my-bucket/some/prefix/')).toEqual({ kind: 's3', bucket: 'my-bucket', prefix: 'some/prefix' });
    expect(parseExportUri('s3://my-bucket')).toEqual({ kind: 's3', bucket: 'my-bucket', prefix: '' });
    expect(parseExportUri('file:///tmp/out')).toEqual({ kind: 'file', dir: '/tmp/out', prefix: '' });
    expect(parseExportUri('./out')).toEqual({ kind: 'file', dir: './out', prefix: '' });
    expect(() => parseExportUri('s3://Bad_Bucket/x')).toThrow(/not a valid S3 bucket name/);
    expect(() => parseExportUri('gs://b/x')).toThrow(/only s3:\/\/ and file:\/\//);
  });
});
