// collect --from on a Parquet export: a zstd part DuckDB wrote in the worker's columns (test/fixtures/parquet).
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { exportManifestKey, exportPartKey, type ExportManifest } from '@sluice/schema';
import { readExport } from './export-source';

const PART = join(__dirname, '..', '..', 'test', 'fixtures', 'parquet', 'export-part.zstd.parquet');

describe('reading a Parquet export', () => {
  it('gives back every Completion of a zstd part, each field as the worker wrote it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-export-pq-'));
    const bytes = readFileSync(PART);
    const key = exportPartKey('results', 'b-duck', { partition: 0, firstOffset: 0, lastOffset: 1, format: 'parquet' });
    mkdirSync(dirname(join(dir, key)), { recursive: true });
    writeFileSync(join(dir, key), bytes);
    const part = { key, partition: 0, first_offset: 0, last_offset: 1, records: 2, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
    const manifest: ExportManifest = { batch_id: 'b-duck', format: 'parquet', completions: 2, errors: 0, parts: [part], updated_at: new Date().toISOString() };
    writeFileSync(join(dir, exportManifestKey('results', 'b-duck')), JSON.stringify(manifest));

    const read = await readExport(`file://${dir}/results`, 'b-duck');
    expect(read).toMatchObject({ parts: 1, records: 2, orphans: [] });
    expect(read.completions.get('b-duck-0')).toEqual({
      job_id: 'b-duck-0', batch_id: 'b-duck',
      outputs: [{ index: 0, text: 'one', token_ids: [1], finish_reason: 'stop', stop_reason: null, cumulative_logprob: null, logprobs: null }],
      // Written without a cached_tokens column (a part from before completion v2): not known, so null.
      usage: { prompt_tokens: 3, completion_tokens: 1, cached_tokens: null }, timings: { queued_ms: 5, first_token_ms: 7, total_ms: 9 },
      model: 'tiny', worker_id: 'w1', metadata: { custom_id: 'c0' }, error: null, completed_at: Date.UTC(2026, 0, 2, 3, 4, 5, 678),
    });
    expect(read.completions.get('b-duck-1')).toMatchObject({ outputs: [{ text: 'two', finish_reason: 'length' }], timings: { first_token_ms: null }, metadata: {} });
  });
});
