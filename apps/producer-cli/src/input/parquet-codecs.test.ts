// Parquet input in every standard codec, from files DuckDB wrote (test/fixtures/parquet/make-fixtures.mjs): an
// independent writer, so the reader is checked against the format, not against its own family's writer.
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliError } from '../errors';
import type { InputRow } from './input-row';
import { parquetSource } from './parquet-source';

const FIXTURES = join(__dirname, '..', '..', 'test', 'fixtures', 'parquet');

async function rowsOf(path: string): Promise<InputRow[]> {
  const out: InputRow[] = [];
  for await (const row of (await parquetSource(path)).rows()) out.push(row);
  return out;
}

describe('Parquet input codecs', () => {
  it.each(['uncompressed', 'snappy', 'gzip', 'zstd', 'brotli', 'lz4'])('reads a %s file written by DuckDB', async (codec) => {
    const path = join(FIXTURES, `prompts.${codec}.parquet`);
    const rows = await rowsOf(path);
    expect(rows.map((r) => r.ok && r.record)).toEqual([
      { custom_id: 'p-1', prompt: 'Name three rivers.', max_tokens: 16 },
      { custom_id: 'p-2', prompt: 'Übersetze: «bonjour» → ?', max_tokens: null },
      { custom_id: 'p-3', prompt: 'long prompt '.repeat(200), max_tokens: 64 },
    ]);
    expect(rows.map((r) => r.where)).toEqual([1, 2, 3].map((n) => `${path}:row ${n}`));
  });

  it('refuses a file whose compressed pages are damaged in one line naming the rows', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'sluice-pq-')), 'damaged.parquet');
    copyFileSync(join(FIXTURES, 'prompts.zstd.parquet'), path);
    const bytes = readFileSync(path);
    // Past the 4-byte magic, inside the first column chunk: the footer still parses, the page does not decompress.
    bytes.fill(0xff, 40, 80);
    writeFileSync(path, bytes);
    const err = await rowsOf(path).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).message).toMatch(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: rows 1-3 cannot be read: [^\\n]+$`));
  });
});
