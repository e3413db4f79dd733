// The built `sluice produce` against a real broker: every input format, field mapping, bad rows, idempotent re-runs, topic creation.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BatchManifestSchemas, CompletionSchemas, HEADERS, METADATA_SEQ, PromptJobSchemas, type Completion, type PromptJob } from '@sluice/schema';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { completion, createTopics, freshTopics, jsonl, kafka, readRecords, sluice, tempDir, writeText, writeTransaction } from './harness';

const dir = tempDir('produce');

async function jobsOf(topic: string): Promise<PromptJob[]> {
  const records = await readRecords(topic, PromptJobSchemas);
  for (const r of records) {
    // Keyed by job_id, so every copy of a job lands on one partition and a consumer keeps the last.
    expect(r.key).toBe(r.value.job_id);
    expect(r.headers).toEqual({ [HEADERS.batchId]: r.value.batch_id, [HEADERS.jobId]: r.value.job_id, [HEADERS.seq]: r.value.metadata[METADATA_SEQ] });
  }
  return records.map((r) => r.value).sort((a, b) => Number(a.metadata[METADATA_SEQ]) - Number(b.metadata[METADATA_SEQ]));
}

describe('sluice produce', () => {
  it('produces JSONL rows as Avro jobs, keeping given ids and merging flag defaults under per-row parameters', async () => {
    const { topics, env } = freshTopics('jsonl');
    const file = writeText(dir, 'rows.jsonl', jsonl([
      { prompt: 'one', temperature: 0.9, tag: 'a' },
      { job_id: 'given-job', prompt: 'two', sampling: { max_tokens: 5 } },
      { custom_id: 'given-custom', messages: [{ role: 'user', content: 'three' }], model: 'row-model' },
    ]));
    const run = await sluice(['produce', file, '--batch-id', 'b-jsonl', '--create-topics', '--partitions', '2', '--temperature', '0.2', '--max-tokens', '9', '--model', 'flag-model', '--metadata-fields', 'tag', '--json'], env);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(run.stdout)).toMatchObject({ batch_id: 'b-jsonl', jobs: 3, bad_rows: 0, format: 'jsonl', topic: topics.jobs });

    const jobs = await jobsOf(topics.jobs);
    expect(jobs.map((j) => j.job_id)).toEqual(['b-jsonl-0', 'given-job', 'given-custom']);
    expect(jobs.every((j) => j.batch_id === 'b-jsonl')).toBe(true);
    expect(jobs[0]).toMatchObject({ prompt: 'one', model: 'flag-model', sampling: { temperature: 0.9, max_tokens: 9 }, metadata: { tag: 'a', [METADATA_SEQ]: '0', 'sluice.kind': 'text' } });
    expect(jobs[1]).toMatchObject({ prompt: 'two', sampling: { temperature: 0.2, max_tokens: 5 } });
    expect(jobs[2]).toMatchObject({ messages: [{ role: 'user', content: 'three' }], model: 'row-model', metadata: { 'sluice.kind': 'chat' } });

    const [manifest] = await readRecords(topics.batches, BatchManifestSchemas);
    expect(manifest).toMatchObject({ key: 'b-jsonl', value: { batch_id: 'b-jsonl', job_count: 3, skipped_rows: 0, jobs_topic: topics.jobs, source: file } });
  });

  it('maps CSV and Parquet columns with the field flags', async () => {
    const { topics, env } = freshTopics('tabular');
    await createTopics(topics, 2);
    const csv = writeText(dir, 'rows.csv', 'id,question,max_tokens,stop\nq1,"what, exactly?",4,END\nq2,why,,\n');
    const fromCsv = await sluice(['produce', csv, '--batch-id', 'b-csv', '--id-field', 'id', '--prompt-field', 'question', '--json'], env);
    expect(fromCsv).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(fromCsv.stdout)).toMatchObject({ jobs: 2, format: 'csv' });

    const parquet = writeText(dir, 'rows.parquet', Buffer.from(parquetWriteBuffer({
      columnData: [
        { name: 'question', data: ['p-a', 'p-b', 'p-c'], type: 'STRING' },
        { name: 'max_tokens', data: BigInt64Array.from([1n, 2n, 3n]), type: 'INT64' },
      ],
    })));
    const fromParquet = await sluice(['produce', parquet, '--batch-id', 'b-parquet', '--prompt-field', 'question', '--json'], env);
    expect(fromParquet).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(fromParquet.stdout)).toMatchObject({ jobs: 3, format: 'parquet' });

    const jobs = await jobsOf(topics.jobs);
    const csvJobs = jobs.filter((j) => j.batch_id === 'b-csv');
    expect(csvJobs.map((j) => [j.job_id, j.prompt, j.sampling])).toEqual([
      ['q1', 'what, exactly?', expect.objectContaining({ max_tokens: 4, stop: ['END'] })],
      ['q2', 'why', null],
    ]);
    const parquetJobs = jobs.filter((j) => j.batch_id === 'b-parquet');
    expect(parquetJobs.map((j) => [j.job_id, j.prompt, j.sampling?.max_tokens])).toEqual([['b-parquet-0', 'p-a', 1], ['b-parquet-1', 'p-b', 2], ['b-parquet-2', 'p-c', 3]]);
  });

  it('reads OpenAI Batch API input, keeping custom_id as the job id', async () => {
    const { topics, env } = freshTopics('openai');
    await createTopics(topics, 1);
    const file = writeText(dir, 'batch-input.jsonl', jsonl([
      { custom_id: 'req-1', method: 'POST', url: '/v1/chat/completions', body: { model: 'm', messages: [{ role: 'user', content: 'hi' }], max_completion_tokens: 7, stop: 'x' } },
      { custom_id: 'req-2', method: 'POST', url: '/v1/completions', body: { model: 'm', prompt: 'once upon', temperature: 0 } },
    ]));
    const run = await sluice(['produce', file, '--batch-id', 'b-openai', '--json'], env);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(run.stdout)).toMatchObject({ jobs: 2, format: 'openai' });
    const jobs = await jobsOf(topics.jobs);
    expect(jobs.map((j) => j.job_id)).toEqual(['req-1', 'req-2']);
    expect(jobs[0]).toMatchObject({ model: 'm', messages: [{ role: 'user', content: 'hi' }], sampling: { max_tokens: 7, stop: ['x'] }, metadata: { 'sluice.kind': 'chat' } });
    expect(jobs[1]).toMatchObject({ prompt: 'once upon', sampling: { temperature: 0 }, metadata: { 'sluice.kind': 'text' } });
  });

  it('stops at a bad row naming file and line, with no batch manifest and no summary', async () => {
    const { topics, env } = freshTopics('bad');
    await createTopics(topics, 1);
    const file = writeText(dir, 'bad.jsonl', `${JSON.stringify({ prompt: 'ok' })}\n\n{"prompt": oops}\n${JSON.stringify({ prompt: 'never read' })}\n`);
    const run = await sluice(['produce', file, '--batch-id', 'b-bad'], env);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^sluice: ${file}:3: not valid JSON: .*\\(1 jobs before it were produced as batch b-bad, no manifest written;`))]);
    expect(await readRecords(topics.batches, BatchManifestSchemas)).toEqual([]);
    const status = await sluice(['status', 'b-bad', '--json'], env);
    expect(JSON.parse(status.stdout)).toMatchObject({ jobs: null, pending: null });
  });

  it('skips and counts bad rows with --skip-bad, reporting each at the end', async () => {
    const { topics, env } = freshTopics('skip');
    await createTopics(topics, 1);
    const file = writeText(dir, 'some-bad.jsonl', [
      JSON.stringify({ prompt: 'a' }),
      'not json',
      JSON.stringify({ prompt: 'b', temperature: -1 }),
      JSON.stringify({ nothing: true }),
      JSON.stringify({ prompt: 'c' }),
    ].join('\n'));
    const run = await sluice(['produce', file, '--batch-id', 'b-skip', '--skip-bad', '--json'], env);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ jobs: 2, bad_rows: 3 });
    const skipped = run.stderr.trim().split('\n');
    expect(skipped).toHaveLength(3);
    expect(skipped[0]).toMatch(new RegExp(`^skipped ${file}:2: not valid JSON`));
    expect(skipped[1]).toMatch(new RegExp(`^skipped ${file}:3: .*temperature`));
    expect(skipped[2]).toBe(`skipped ${file}:4: unknown field 'nothing'; --metadata-fields keeps it as metadata, --no-strict ignores unknown fields`);
    // Generated ids follow the row's place in the file, bad rows included.
    expect((await jobsOf(topics.jobs)).map((j) => j.job_id)).toEqual(['b-skip-0', 'b-skip-4']);
    const [manifest] = await readRecords(topics.batches, BatchManifestSchemas);
    expect(manifest.value).toMatchObject({ job_count: 2, skipped_rows: 3 });

    // Each skipped row is a BAD_ROW dead letter, so once the two jobs are done collect gives all five rows a line.
    await writeTransaction(topics.results, CompletionSchemas, [0, 4].map((i) => ({ key: `b-skip-${i}`, value: completion(`b-skip-${i}`, 'b-skip', i) })));
    expect(JSON.parse((await sluice(['status', 'b-skip', '--json'], env)).stdout)).toMatchObject({ jobs: 2, done: 2, dead_lettered: 0, skipped: 3, pending: 0 });
    const out = join(dir, 'skip-out.jsonl');
    const collected = await sluice(['collect', 'b-skip', '-o', out, '--json'], env);
    expect(collected.code).toBe(0);
    expect(JSON.parse(collected.stdout)).toMatchObject({ written: 5, failed: 3, skipped: 3, dead_lettered: 0, pending: 0 });
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Completion);
    expect(lines.map((c) => [c.job_id, c.error?.code ?? null])).toEqual([['b-skip-0', null], ['b-skip-1', 'BAD_ROW'], ['b-skip-2', 'BAD_ROW'], ['b-skip-3', 'BAD_ROW'], ['b-skip-4', null]]);
    expect(lines[3].error?.message).toBe(`${file}:4: unknown field 'nothing'; --metadata-fields keeps it as metadata, --no-strict ignores unknown fields`);
  });

  it('refuses a batch id that already has a manifest; with --rerun writes the same job ids, each to one partition, and a manifest counting each job once', async () => {
    const { topics, env } = freshTopics('again');
    await createTopics(topics, 3);
    const file = writeText(dir, 'again.jsonl', jsonl(Array.from({ length: 20 }, (_, i) => ({ prompt: `p${i}` }))));
    expect((await sluice(['produce', file, '--batch-id', 'b-again'], env)).code).toBe(0);
    const refused = await sluice(['produce', file, '--batch-id', 'b-again'], env);
    expect(refused).toMatchObject({ code: 2, stdout: '' });
    expect(refused.stderr.trim()).toMatch(new RegExp(`^sluice: batch b-again was already produced at \\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z with 20 jobs \\(from ${file}\\); --rerun produces it again`));
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect((await readRecords(topics.jobs, PromptJobSchemas)).length).toBe(20);
    expect((await sluice(['produce', file, '--batch-id', 'b-again', '--rerun'], env)).code).toBe(0);
    const records = await readRecords(topics.jobs, PromptJobSchemas);
    expect(records).toHaveLength(40);
    const partitionOf = new Map<string, Set<number>>();
    for (const r of records) partitionOf.set(r.key, (partitionOf.get(r.key) ?? new Set()).add(r.partition));
    expect([...partitionOf.keys()].sort()).toEqual(Array.from({ length: 20 }, (_, i) => `b-again-${i}`).sort());
    expect([...partitionOf.values()].every((p) => p.size === 1)).toBe(true);
    // The batches topic is compacted by batch id: the latest manifest still counts 20 jobs.
    const manifests = await readRecords(topics.batches, BatchManifestSchemas);
    expect(manifests.map((m) => [m.key, m.value.job_count])).toEqual([['b-again', 20], ['b-again', 20]]);
    const status = await sluice(['status', 'b-again', '--json'], env);
    expect(JSON.parse(status.stdout)).toMatchObject({ jobs: 20, pending: 20 });
  });

  it('checks a file with --dry-run without any broker', async () => {
    const file = writeText(dir, 'dry.jsonl', jsonl([{ prompt: 'a' }, { prompt: 'b', top_k: 'many' }]));
    const run = await sluice(['produce', file, '--dry-run', '--batch-id', 'b-dry', '--skip-bad', '--json'], { SLUICE_KAFKA_BROKERS: '127.0.0.1:1' });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ batch_id: 'b-dry', jobs: 1, bad_rows: 1, dry_run: true });
    expect(run.stderr.trim()).toMatch(new RegExp(`^skipped ${file}:2: field 'top_k'`));
  });

  it('creates missing topics only when asked', async () => {
    const { topics, env } = freshTopics('create');
    const file = writeText(dir, 'create.jsonl', jsonl([{ prompt: 'x' }]));
    const refused = await sluice(['produce', file], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim()).toBe(`sluice: topic ${topics.jobs} does not exist: create it or pass --create-topics`);

    expect((await sluice(['produce', file, '--create-topics', '--partitions', '3'], env)).code).toBe(0);
    const admin = kafka.admin();
    await admin.connect();
    try {
      const { topics: meta } = await admin.fetchTopicMetadata({ topics: Object.values(topics) });
      expect(Object.fromEntries(meta.map((t) => [t.name, t.partitions.length]))).toEqual({ [topics.jobs]: 3, [topics.results]: 3, [topics.dlq]: 1, [topics.batches]: 1 });
      const configs = await admin.describeConfigs({ resources: [{ type: 2, name: topics.batches, configNames: ['cleanup.policy'] }], includeSynonyms: false });
      expect(configs.resources[0].configEntries[0].configValue).toBe('compact');
    } finally {
      await admin.disconnect();
    }
  });

  describe('input edges', () => {
    const { topics, env } = freshTopics('edges');
    beforeAll(() => createTopics(topics, 1));

    it('refuses an empty file and a directory in one line, for produce and generate', async () => {
      const empty = writeText(dir, 'empty.jsonl', '');
      const refused = await sluice(['produce', empty, '--batch-id', 'b-empty'], env);
      expect(refused).toMatchObject({ code: 2, stdout: '', stderr: `sluice: ${empty} is empty (0 bytes): there is nothing to produce\n` });
      const blank = writeText(dir, 'blank.jsonl', '\n\n');
      expect(await sluice(['produce', blank, '--batch-id', 'b-blank'], env)).toMatchObject({ code: 2, stderr: `sluice: ${blank} holds no rows: there is nothing to produce\n` });
      for (const args of [['produce', dir], ['produce', dir, '--format', 'parquet'], ['generate', '--model', dir, '--input', dir, '-o', '-']]) {
        const run = await sluice(args, env);
        expect(run).toMatchObject({ code: 1, stdout: '', stderr: `sluice: ${dir} is a directory, not an input file\n` });
      }
      expect(await readRecords(topics.batches, BatchManifestSchemas)).toEqual([]);
    });

    it('accepts a byte order mark at the start of JSONL and CSV files', async () => {
      const jsonlFile = writeText(dir, 'bom.jsonl', `\ufeff${jsonl([{ prompt: 'a' }, { prompt: 'b' }])}`);
      const csvFile = writeText(dir, 'bom.csv', '\ufeffprompt,max_tokens\nc,3\n');
      for (const [file, batch, jobs] of [[jsonlFile, 'b-bom-jsonl', 2], [csvFile, 'b-bom-csv', 1]] as const) {
        const run = await sluice(['produce', file, '--batch-id', batch, '--json'], env);
        expect(run).toMatchObject({ code: 0, stderr: '' });
        expect(JSON.parse(run.stdout)).toMatchObject({ jobs });
      }
      const prompts = (await jobsOf(topics.jobs)).filter((j) => j.batch_id.startsWith('b-bom')).map((j) => [j.batch_id, j.prompt, j.sampling?.max_tokens ?? null]);
      expect(prompts).toEqual(expect.arrayContaining([['b-bom-jsonl', 'a', null], ['b-bom-jsonl', 'b', null], ['b-bom-csv', 'c', 3]]));
    });

    it.each([
      ['invalid UTF-8 bytes', Buffer.concat([Buffer.from('{"prompt":"ok"}\n{"prompt":"bad '), Buffer.from([0xc3, 0x28]), Buffer.from('"}\n')]), 'is not valid UTF-8'],
      ['an encoded surrogate', Buffer.concat([Buffer.from('{"prompt":"ok"}\n{"prompt":"bad '), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}\n')]), 'is not valid UTF-8'],
      ['a lone surrogate escape', Buffer.from('{"prompt":"ok"}\n{"prompt":"bad \\ud800"}\n'), 'prompt'],
      ['beam search with n=2', Buffer.from(`${jsonl([{ prompt: 'ok' }, { prompt: 'x', use_beam_search: true, n: 2, temperature: 0 }])}`), "field 'n': beam search returns bestOf beams"],
      ['early_stopping never', Buffer.from(`${jsonl([{ prompt: 'ok' }, { prompt: 'x', sampling: { use_beam_search: true, best_of: 2, temperature: 0, early_stopping: 'never' } }])}`), "field 'early_stopping': \"never\" is not supported"],
    ])('refuses a row with %s at its file and line, producing nothing of it', async (what, bytes, reason) => {
      const file = writeText(dir, `row-${what.replace(/\W+/g, '-')}.jsonl`, bytes);
      const run = await sluice(['produce', file, '--dry-run', '--batch-id', 'b-rows'], env);
      expect(run.code).toBe(1);
      expect(run.stderr.trim().split('\n')).toEqual([expect.stringContaining(`sluice: ${file}:2: `)]);
      expect(run.stderr).toContain(reason);
      expect(run.stderr).not.toContain('\ufffd');
    });
  });
});
