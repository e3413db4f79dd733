// The built `sluice collect` from the results topic and from an S3 export in the layout @sluice/schema defines.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CompletionSchemas, DeadLetterSchemas, exportManifestKey, exportPartKey, recordToJson, type Completion, type ExportManifest } from '@sluice/schema';
import { completion, createTopics, deadLetter, freshTopics, jsonl, s3, sluice, tempDir, writeText, writeTransaction } from './harness';

const dir = tempDir('collect');

function lines(path: string): Array<Record<string, unknown>> {
  return readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('sluice collect from the results topic', () => {
  const { topics, env } = freshTopics('collect');
  const batch = 'b-col';
  const id = (i: number) => `${batch}-${i}`;

  beforeAll(async () => {
    await createTopics(topics, 3);
    const file = writeText(dir, 'six.jsonl', jsonl([
      ...Array.from({ length: 5 }, (_, i) => ({ prompt: `p${i}` })),
      { messages: [{ role: 'user', content: 'hi' }] },
    ]));
    expect((await sluice(['produce', file, '--batch-id', batch], env)).code).toBe(0);
    // Written out of input order over several partitions, as parallel workers would.
    await writeTransaction(topics.results, CompletionSchemas, [4, 2, 0].map((i) => ({ key: id(i), value: completion(id(i), batch, i, i === 2 ? 'ENGINE_ERROR' : undefined), partition: i % 3 })));
    await writeTransaction(topics.results, CompletionSchemas, [
      // A replayed job: a success after its error, and a duplicate success; one line per job, the success.
      { key: id(2), value: completion(id(2), batch, 2), partition: 2 },
      { key: id(0), value: completion(id(0), batch, 0), partition: 0 },
      { key: id(5), value: completion(id(5), batch, 5, undefined, 'chat'), partition: 1 },
    ]);
    await writeTransaction(topics.results, CompletionSchemas, [{ key: id(1), value: completion(id(1), batch, 1) }], false);
  });

  it('refuses an incomplete batch unless --partial, then writes committed completions in input order', async () => {
    const out = join(dir, 'partial.jsonl');
    const refused = await sluice(['collect', batch, '-o', out], env);
    expect(refused.code).toBe(4);
    expect(refused.stderr.trim()).toBe(`sluice: 2 of 6 jobs of batch ${batch} are still pending; nothing written (--partial writes what there is)`);

    const partial = await sluice(['collect', batch, '-o', out, '--partial', '--json'], env);
    expect(partial.code).toBe(0);
    expect(JSON.parse(partial.stdout)).toMatchObject({ written: 4, failed: 0, jobs: 6, pending: 2, source: topics.results });
    const got = lines(out);
    expect(got.map((c) => c.job_id)).toEqual([id(0), id(2), id(4), id(5)]);
    expect(got[1]).toMatchObject({ error: null, outputs: [{ text: `answer ${id(2)}` }] });
  });

  it('writes the whole batch, then the OpenAI Batch API output format, once every job is accounted for', async () => {
    await writeTransaction(topics.results, CompletionSchemas, [{ key: id(1), value: completion(id(1), batch, 1) }]);
    await writeTransaction(topics.dlq, DeadLetterSchemas, [{ key: id(3), value: deadLetter(id(3), batch, 3, 3) }]);
    const out = join(dir, 'all.jsonl');
    const run = await sluice(['collect', batch, '-o', out], env);
    expect(run).toMatchObject({ code: 0, stdout: '' });
    expect(run.stderr.trim()).toBe(`batch ${batch}: wrote 6 lines (5 completed, 1 failed, 1 of them dead-lettered; 15 prompt + 10 output tokens) from ${topics.results} to ${out}`);
    const got = lines(out);
    // One line per input row: the dead-lettered job is an error record in its input place.
    expect(got.map((c) => c.job_id)).toEqual([id(0), id(1), id(2), id(3), id(4), id(5)]);
    expect(got[3]).toMatchObject({ job_id: id(3), batch_id: batch, outputs: [], error: { code: 'UNDECODABLE', message: 'test dead letter' } });
    // Each line is the Completion record's JSON, as the export writes it.
    expect(readFileSync(out, 'utf8')).toBe(got.map((c) => `${recordToJson(c)}\n`).join(''));

    const openai = join(dir, 'openai.jsonl');
    expect((await sluice(['collect', batch, '-o', openai, '--openai-format'], env)).code).toBe(0);
    const rows = lines(openai);
    expect(rows.map((r) => r.custom_id)).toEqual([id(0), id(1), id(2), id(3), id(4), id(5)]);
    expect(rows[0]).toMatchObject({ error: null, response: { status_code: 200, body: { object: 'text_completion', model: 'tiny', choices: [{ index: 0, text: `answer ${id(0)}`, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } } } });
    expect(rows[3]).toEqual({ id: `batch_req_${id(3)}`, custom_id: id(3), response: null, error: { code: 'UNDECODABLE', message: 'test dead letter' } });
    expect(rows[5]).toMatchObject({ response: { body: { object: 'chat.completion', choices: [{ message: { role: 'assistant', content: `answer ${id(5)}` } }] } } });
  });

  it('writes error records to --errors-file, completions to --output', async () => {
    const out = join(dir, 'ok.jsonl');
    const errors = join(dir, 'errors.jsonl');
    const run = await sluice(['collect', batch, '-o', out, '--errors-file', errors, '--openai-format', '--json'], env);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ written: 6, failed: 1, dead_lettered: 1, errors_file: errors, usage: { prompt_tokens: 15, completion_tokens: 10, total_tokens: 25 } });
    expect(lines(out).map((r) => r.custom_id)).toEqual([id(0), id(1), id(2), id(4), id(5)]);
    expect(lines(errors)).toEqual([{ id: `batch_req_${id(3)}`, custom_id: id(3), response: null, error: { code: 'UNDECODABLE', message: 'test dead letter' } }]);
  });

  it('names a batch it has never seen', async () => {
    const run = await sluice(['collect', 'b-unknown', '-o', join(dir, 'none.jsonl')], env);
    expect(run.code).toBe(4);
    expect(run.stderr.trim()).toBe(`sluice: batch b-unknown has no manifest in ${topics.batches} (unknown batch, or produce has not finished); nothing written (--partial writes what there is)`);
  });
});

describe('sluice collect from an S3 export', () => {
  const config = s3();
  const client = new S3Client(config);
  const bucket = 'cli-export';
  const prefix = 'exports/run1';
  const batch = 'b-s3';
  const s3Env = {
    SLUICE_S3_ENDPOINT: config.endpoint,
    AWS_ACCESS_KEY_ID: config.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: config.credentials.secretAccessKey,
    AWS_REGION: config.region,
  };
  const body = (cs: Completion[]) => Buffer.from(cs.map((c) => `${recordToJson(c)}\n`).join(''));
  const put = (key: string, bytes: Buffer) => client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }));
  // The job count comes from the batch's manifest on Kafka, which produce writes; the dead letters from the DLQ.
  const { topics, env: topicEnv } = freshTopics('collect-s3');
  const env = { ...s3Env, ...topicEnv };
  const produceRows = async (batchId: string, n: number) => {
    const file = writeText(dir, `${batchId}.jsonl`, jsonl(Array.from({ length: n }, (_, i) => ({ prompt: `p${i}` }))));
    expect((await sluice(['produce', file, '--batch-id', batchId], topicEnv)).code).toBe(0);
  };

  beforeAll(async () => {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    await createTopics(topics, 2);
    await produceRows(batch, 5);
    const c = (i: number, error?: string) => completion(`${batch}-${i}`, batch, i, error);
    // Two partitions' parts; the second part of partition 0 overlaps the first after a replay.
    const parts = [
      { part: { partition: 0, firstOffset: 0, lastOffset: 1, format: 'jsonl' as const }, bytes: body([c(3), c(0, 'ENGINE_ERROR')]) },
      { part: { partition: 0, firstOffset: 1, lastOffset: 2, format: 'jsonl' as const }, bytes: body([c(0), c(4)]) },
      { part: { partition: 1, firstOffset: 0, lastOffset: 1, format: 'jsonl' as const }, bytes: body([c(2), c(1, 'DEADLINE_EXCEEDED')]) },
    ];
    const manifest: ExportManifest = { batch_id: batch, format: 'jsonl', completions: 4, errors: 1, parts: [], updated_at: new Date().toISOString() };
    for (const { part, bytes } of parts) {
      const key = exportPartKey(prefix, batch, part);
      await put(key, bytes);
      manifest.parts.push({ key, partition: part.partition, first_offset: part.firstOffset, last_offset: part.lastOffset, records: 2, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    }
    await put(exportManifestKey(prefix, batch), Buffer.from(JSON.stringify(manifest)));
    // An attempt that never committed (a fenced zombie) left a part the manifest does not list, with other text for job 3.
    const zombie = { ...c(3), outputs: [{ ...c(3).outputs[0], text: 'sampled by the zombie' }] };
    await put(exportPartKey(prefix, batch, { partition: 0, firstOffset: 0, lastOffset: 5, format: 'jsonl' }), body([zombie]));
  });

  it('takes the endpoint from --s3-endpoint too, the flag winning over SLUICE_S3_ENDPOINT', async () => {
    const wrong = { ...env, SLUICE_S3_ENDPOINT: 'http://127.0.0.1:1' };
    const run = await sluice(['collect', batch, '-o', join(dir, 's3-flag.jsonl'), '--from', `s3://${bucket}/${prefix}`, '--s3-endpoint', config.endpoint, '--json'], wrong);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ written: 5, jobs: 5 });
    const bad = await sluice(['collect', batch, '-o', join(dir, 's3-bad.jsonl'), '--from', `s3://${bucket}/${prefix}`, '--s3-endpoint', 'minio:9000'], env);
    expect(bad).toMatchObject({ code: 2, stderr: 'sluice: --s3-endpoint: "minio:9000" is not an http(s) URL\n' });
  });

  it('reads the parts in input order, one line per job, and writes OpenAI output from them too', async () => {
    const out = join(dir, 's3.jsonl');
    const run = await sluice(['collect', batch, '-o', out, '--from', `s3://${bucket}/${prefix}`, '--json'], env);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ written: 5, failed: 1, jobs: 5, pending: 0, orphans_ignored: 1, source: `s3://${bucket}/${prefix}` });
    const got = lines(out);
    expect(got.map((c) => [c.job_id, (c.error as { code: string } | null)?.code ?? null])).toEqual([
      [`${batch}-0`, null], [`${batch}-1`, 'DEADLINE_EXCEEDED'], [`${batch}-2`, null], [`${batch}-3`, null], [`${batch}-4`, null],
    ]);
    expect(got[3]).toMatchObject({ outputs: [{ text: `answer ${batch}-3` }] });

    const openai = join(dir, 's3-openai.jsonl');
    expect((await sluice(['collect', batch, '-o', openai, '--from', `s3://${bucket}/${prefix}`, '--openai-format'], env)).code).toBe(0);
    expect(lines(openai)[1]).toEqual({ id: `batch_req_${batch}-1`, custom_id: `${batch}-1`, response: null, error: { code: 'DEADLINE_EXCEEDED', message: 'failed with DEADLINE_EXCEEDED' } });
  });

  it('refuses a batch that is still running, as the Kafka path does, and writes one line per job once it is done', async () => {
    const running = 'b-s3-run';
    await produceRows(running, 4);
    const c = (i: number) => completion(`${running}-${i}`, running, i);
    const from = `s3://${bucket}/${prefix}`;
    const exportParts = async (parts: Completion[][]) => {
      const manifest: ExportManifest = { batch_id: running, format: 'jsonl', completions: 0, errors: 0, parts: [], updated_at: new Date().toISOString() };
      for (const [i, cs] of parts.entries()) {
        const part = { partition: i, firstOffset: 0, lastOffset: cs.length - 1, format: 'jsonl' as const };
        const key = exportPartKey(prefix, running, part);
        const bytes = body(cs);
        await put(key, bytes);
        manifest.completions += cs.length;
        manifest.parts.push({ key, partition: i, first_offset: 0, last_offset: cs.length - 1, records: cs.length, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
      }
      await put(exportManifestKey(prefix, running), Buffer.from(JSON.stringify(manifest)));
    };
    // Two of four jobs exported so far, and the export's own manifest agrees with its parts.
    await exportParts([[c(0), c(1)]]);
    const out = join(dir, 's3-run.jsonl');
    const refused = await sluice(['collect', running, '-o', out, '--from', from], env);
    expect(refused.code).toBe(4);
    expect(refused.stderr.trim().split('\n').pop()).toBe(`sluice: 2 of 4 jobs of batch ${running} are still pending; nothing written (--partial writes what there is)`);
    const partial = await sluice(['collect', running, '-o', out, '--from', from, '--partial', '--json'], env);
    expect(partial.code).toBe(0);
    expect(JSON.parse(partial.stdout)).toMatchObject({ written: 2, jobs: 4, pending: 2 });

    // Job 2 is dead-lettered, job 3 exported: every job is accounted for, and the dead letter has its line.
    await writeTransaction(topics.dlq, DeadLetterSchemas, [{ key: `${running}-2`, value: deadLetter(`${running}-2`, running, 2, 2) }]);
    await exportParts([[c(0), c(1)], [c(3)]]);
    const done = await sluice(['collect', running, '-o', out, '--from', from, '--json'], env);
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ written: 4, failed: 1, dead_lettered: 1, jobs: 4, pending: 0 });
    expect(lines(out).map((l) => [l.job_id, (l.error as { code: string } | null)?.code ?? null])).toEqual([
      [`${running}-0`, null], [`${running}-1`, null], [`${running}-2`, 'UNDECODABLE'], [`${running}-3`, null],
    ]);
  });

  it('refuses a part whose bytes differ from the manifest', async () => {
    const other = 'b-s3-corrupt';
    const part = { partition: 0, firstOffset: 0, lastOffset: 0, format: 'jsonl' as const };
    const key = exportPartKey(prefix, other, part);
    await put(key, body([completion(`${other}-0`, other, 0)]));
    const manifest: ExportManifest = { batch_id: other, format: 'jsonl', completions: 1, errors: 0, parts: [{ key, partition: 0, first_offset: 0, last_offset: 0, records: 1, bytes: 1, sha256: '0'.repeat(64) }], updated_at: new Date().toISOString() };
    await put(exportManifestKey(prefix, other), Buffer.from(JSON.stringify(manifest)));
    await produceRows(other, 1);
    const run = await sluice(['collect', other, '-o', join(dir, 'corrupt.jsonl'), '--from', `s3://${bucket}/${prefix}`], env);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(`sluice: s3://${bucket}/${prefix}/batch_id=${other}/part-00000-0000000000000000000-0000000000000000000.jsonl: SHA-256 differs from manifest.json`);
  });
});
