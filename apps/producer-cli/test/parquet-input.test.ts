// The built `sluice produce` against a real broker on Parquet files DuckDB wrote with gzip and zstd (the defaults of
// Polars and many writers): every row becomes a job, and a damaged file is one line with no stack trace.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { METADATA_SEQ, PromptJobSchemas } from '@sluice/schema';
import { freshTopics, readRecords, sluice, tempDir } from './harness';

const FIXTURES = join(__dirname, 'fixtures', 'parquet');
const dir = tempDir('parquet-input');

describe('sluice produce on Parquet from another writer', () => {
  it.each(['gzip', 'zstd'])('produces every row of a %s file', async (codec) => {
    const { topics, env } = freshTopics(`pq-${codec}`);
    const run = await sluice(['produce', join(FIXTURES, `prompts.${codec}.parquet`), '--batch-id', `b-${codec}`, '--create-topics', '--partitions', '1', '--json'], env);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(run.stdout)).toMatchObject({ jobs: 3, bad_rows: 0, format: 'parquet' });
    const jobs = (await readRecords(topics.jobs, PromptJobSchemas)).map((r) => r.value).sort((a, b) => Number(a.metadata[METADATA_SEQ]) - Number(b.metadata[METADATA_SEQ]));
    expect(jobs.map((j) => [j.job_id, j.prompt, j.sampling?.max_tokens ?? null])).toEqual([
      ['p-1', 'Name three rivers.', 16],
      ['p-2', 'Übersetze: «bonjour» → ?', null],
      ['p-3', 'long prompt '.repeat(200), 64],
    ]);
  });

  it('refuses a damaged file in one line, with no stack trace', async () => {
    const { env } = freshTopics('pq-damaged');
    const path = join(dir, 'damaged.parquet');
    copyFileSync(join(FIXTURES, 'prompts.zstd.parquet'), path);
    const bytes = readFileSync(path);
    bytes.fill(0xff, 40, 80); // inside the first column chunk: the footer parses, the page does not decompress
    writeFileSync(path, bytes);
    const run = await sluice(['produce', path, '--create-topics', '--partitions', '1'], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`^sluice: ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: rows 1-3 cannot be read: [^\\n]+\\n$`));
  });
});
