// A batch produced twice under one --batch-id (a re-run that retries its failed jobs): one completion per job everywhere.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CompletionSchemas, exportManifestKey, exportPartKey, PromptJobSchemas, recordToJson, type Completion, type ExportManifest } from '@sluice/schema';
import { completion, createTopics, freshTopics, jsonl, readRecords, s3, sluice, tempDir, writeText, writeTransaction } from './harness';

const dir = tempDir('rerun');
const JOBS = 20;
const batch = 'b-rerun';
const id = (i: number) => `${batch}-${i}`;
// The first run fails every fifth job; the re-run completes every job again.
const failedFirst = (i: number) => i % 5 === 0;
const withText = (c: Completion, text: string): Completion => ({ ...c, outputs: c.outputs.map((o) => ({ ...o, text })) });
const firstRun = Array.from({ length: JOBS }, (_, i) => (failedFirst(i) ? completion(id(i), batch, i, 'ENGINE_FAILED') : withText(completion(id(i), batch, i), `first ${i}`)));
const secondRun = Array.from({ length: JOBS }, (_, i) => withText(completion(id(i), batch, i), `rerun ${i}`));
// What the rule keeps: the first committed success, else the first committed error.
const expected = Array.from({ length: JOBS }, (_, i) => [id(i), failedFirst(i) ? `rerun ${i}` : `first ${i}`]);

function linesOf(path: string): Array<[string, string | null]> {
  return readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Completion).map((c) => [c.job_id, c.error ? null : c.outputs[0].text]);
}

describe('a re-run of a batch', () => {
  const { topics, env } = freshTopics('rerun');
  const config = s3();
  const client = new S3Client(config);
  const bucket = 'cli-rerun';
  const prefix = 'exports';
  const s3Env = { SLUICE_S3_ENDPOINT: config.endpoint, AWS_ACCESS_KEY_ID: config.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: config.credentials.secretAccessKey, AWS_REGION: config.region };

  beforeAll(async () => {
    await createTopics(topics, 3);
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  });

  it('is refused without --rerun; with it, collect from Kafka and from S3 and status count each job once', async () => {
    const file = writeText(dir, 'rows.jsonl', jsonl(Array.from({ length: JOBS }, (_, i) => ({ prompt: `p${i}` }))));
    expect((await sluice(['produce', file, '--batch-id', batch], env)).code).toBe(0);
    // Workers answer the first run (keyed by job id, as they write completions).
    await writeTransaction(topics.results, CompletionSchemas, firstRun.map((c) => ({ key: c.job_id, value: c })));

    const refused = await sluice(['produce', file, '--batch-id', batch], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(new RegExp(`^sluice: batch ${batch} was already produced at .* with ${JOBS} jobs`));
    expect(await readRecords(topics.jobs, PromptJobSchemas)).toHaveLength(JOBS);

    expect((await sluice(['produce', file, '--batch-id', batch, '--rerun'], env)).code).toBe(0);
    expect(await readRecords(topics.jobs, PromptJobSchemas)).toHaveLength(2 * JOBS);
    await writeTransaction(topics.results, CompletionSchemas, secondRun.map((c) => ({ key: c.job_id, value: c })));

    // The export as workers leave it: each run's completions in its own committed part, the manifest counting every record.
    const parts = [firstRun, secondRun].map((records, run) => {
      const part = { partition: 0, firstOffset: run * JOBS, lastOffset: run * JOBS + JOBS - 1, format: 'jsonl' as const };
      return { key: exportPartKey(prefix, batch, part), part, bytes: Buffer.from(records.map((c) => `${recordToJson(c)}\n`).join('')) };
    });
    const errors = firstRun.filter((c) => c.error).length;
    const manifest: ExportManifest = { batch_id: batch, format: 'jsonl', completions: 2 * JOBS - errors, errors, parts: [], updated_at: new Date().toISOString() };
    for (const { key, part, bytes } of parts.reverse()) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }));
      manifest.parts.push({ key, partition: 0, first_offset: part.firstOffset, last_offset: part.lastOffset, records: JOBS, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    }
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: exportManifestKey(prefix, batch), Body: JSON.stringify(manifest) }));

    const fromKafka = join(dir, 'kafka.jsonl');
    const kafkaRun = await sluice(['collect', batch, '-o', fromKafka, '--json'], env);
    expect(kafkaRun.code).toBe(0);
    expect(JSON.parse(kafkaRun.stdout)).toMatchObject({ written: JOBS, failed: 0, jobs: JOBS, pending: 0 });
    expect(linesOf(fromKafka)).toEqual(expected);

    const fromS3 = join(dir, 's3.jsonl');
    // The job count and dead letters come from Kafka even when the completions come from the export.
    const s3Run = await sluice(['collect', batch, '-o', fromS3, '--from', `s3://${bucket}/${prefix}`, '--json'], { ...s3Env, ...env });
    expect(s3Run.code).toBe(0);
    // The summary is stderr's last line (the AWS SDK may print a Node version warning before it).
    expect(JSON.parse(s3Run.stdout)).toMatchObject({ written: JOBS, failed: 0, jobs: JOBS, pending: 0 });
    expect(linesOf(fromS3)).toEqual(expected);

    const status = await sluice(['status', batch, '--json'], env);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ jobs: JOBS, done: JOBS, failed: 0, dead_lettered: 0, pending: 0 });
  });
});
