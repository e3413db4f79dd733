// The built sluice-consumer bin against real Kafka and S3: exactly-once results, the S3 export, the DLQ.
import { createHash, randomUUID } from 'node:crypto';
import {
  asJson, committedTotal, createTopics, decodeCompletion, decodeDeadLetter, getObject, jobs, listKeys, metricsPort, produce, readCommitted, s3Env, sample, startConsumer, waitFor, waitForCaughtUp, suiteFixture,
} from './harness';

interface CompletionOut {
  job_id: string;
  batch_id: string;
  outputs: Array<{ text: string }>;
  metadata: Record<string, string>;
  error: { code: string } | null;
}

interface ManifestOut {
  completions: number;
  errors: number;
  parts: Array<{ key: string; records: number; bytes: number; sha256: string }>;
}

const PARTITIONS = 3;

describe('sluice-consumer pipeline (echo engine, real Kafka + S3)', () => {
  const fx = suiteFixture('sluice-test');
  const bucket = fx.bucket;

  it('runs every job exactly once into the results topic and the S3 export, and dead-letters bad input with its reason', async () => {
    const id = randomUUID().slice(0, 8);
    const topics = { jobs: `jobs-${id}`, results: `results-${id}`, dlq: `dlq-${id}` };
    const group = `group-${id}`;
    const batch = `batch-${id}`;
    await createTopics(fx.admin, Object.values(topics), PARTITIONS);
    const good = jobs(batch, 300);
    const bad = [
      { key: 'garbage', value: Buffer.from([0xde, 0xad, 0xbe, 0xef]), code: 'UNDECODABLE' },
      { key: 'not-json', value: '{"job_id": "x",', code: 'UNDECODABLE' },
      { key: 'no-prompt', value: JSON.stringify({ job_id: 'np', batch_id: batch }), code: 'SCHEMA_VIOLATION' },
      { key: 'bad-temp', value: JSON.stringify({ job_id: 'bt', batch_id: batch, prompt: 'x', sampling: { temperature: -3 } }), code: 'INVALID_SAMPLING' },
      { key: 'too-big', value: JSON.stringify({ job_id: 'tb', batch_id: batch, prompt: 'x'.repeat(5000) }), code: 'PROMPT_TOO_LARGE' },
    ];
    const expired = { job_id: `${batch}-expired`, batch_id: batch, prompt: 'late', deadline: Date.now() - 1000 };
    // Bad input spread through the good jobs, so later jobs of the same partitions must still complete.
    const values = [...asJson(good.slice(0, 150)), ...bad.map(({ key, value }) => ({ key, value })), { key: expired.job_id, value: JSON.stringify(expired) }, ...asJson(good.slice(150))];
    await produce(topics.jobs, values, PARTITIONS);

    const c = startConsumer(
      ['--jobs-topic', topics.jobs, '--results-topic', topics.results, '--dlq-topic', topics.dlq, '--group', group, '--max-prompt-bytes', '1000', '--commit-interval-ms', '200'],
      s3Env(bucket, `exp-${id}`),
    );
    try {
      await waitForCaughtUp(fx.admin, group, topics.jobs);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${c.logs.slice(-30).join('\n')}`);
    }

    // Metrics and probes of the running worker agree with what it committed.
    const base = `http://127.0.0.1:${await metricsPort(c)}`;
    // The lag is read from the broker every 2 s: wait for the read after the last commit.
    const lagSeries = (await fx.admin.fetchTopicOffsets(topics.jobs)).map((p) => `sluice_partition_lag{topic="${topics.jobs}",partition="${p.partition}"}`);
    await waitFor('the lag to read 0', async () => {
      const text = await (await fetch(`${base}/metrics`)).text();
      return lagSeries.every((series) => sample(text, series) === 0);
    });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(sample(text, 'sluice_jobs_received_total')).toBe(values.length);
    expect(sample(text, 'sluice_jobs_completed_total')).toBe(good.length);
    expect(sample(text, 'sluice_jobs_failed_total{code="DEADLINE_EXCEEDED"}')).toBe(1);
    for (const code of new Set(bad.map((b) => b.code))) {
      expect(sample(text, `sluice_jobs_dead_lettered_total{code="${code}"}`)).toBe(bad.filter((b) => b.code === code).length);
    }
    const ends = await fx.admin.fetchTopicOffsets(topics.jobs);
    for (const p of ends) {
      const series = `{topic="${topics.jobs}",partition="${p.partition}"}`;
      expect(sample(text, `sluice_partition_done_watermark${series}`)).toBe(Number(p.high));
      expect(sample(text, `sluice_partition_committed_offset${series}`)).toBe(Number(p.high));
      expect(sample(text, `sluice_partition_lag${series}`)).toBe(0);
    }
    expect(sample(text, 'sluice_generation_tokens_total')).toBeGreaterThan(0);
    expect(sample(text, 'sluice_in_flight_jobs')).toBe(0);

    c.child.kill('SIGTERM');
    expect(await c.exited).toBe(0);

    // Results: each good job exactly once, echoing its prompt; the expired job answered with an error.
    const results = await Promise.all((await readCommitted(fx.admin, topics.results)).map(async (m) => ({ key: m.key, c: await decodeCompletion(m.value) })));
    const ids = results.map((r) => r.c.job_id);
    expect(ids).toHaveLength(good.length + 1);
    expect(new Set(ids).size).toBe(ids.length);
    for (const r of results) expect(r.key).toBe(r.c.job_id);
    const byId = new Map(results.map((r) => [r.c.job_id, r.c]));
    for (const j of good) {
      expect(byId.get(j.job_id)?.outputs[0].text).toBe(j.prompt);
      expect(byId.get(j.job_id)?.metadata).toEqual(j.metadata);
      expect(byId.get(j.job_id)?.error).toBeNull();
    }
    expect(byId.get(expired.job_id)?.error?.code).toBe('DEADLINE_EXCEEDED');

    // DLQ: one dead letter per bad message, with its reason and the original bytes.
    const dead = await Promise.all((await readCommitted(fx.admin, topics.dlq)).map((m) => decodeDeadLetter(m.value)));
    expect(dead.map((d) => d.error_code).sort()).toEqual(bad.map((b) => b.code).sort());
    for (const d of dead) {
      expect(d.source_topic).toBe(topics.jobs);
      expect(d.error_message.length).toBeGreaterThan(0);
    }
    expect(dead.find((d) => d.error_code === 'UNDECODABLE' && d.value?.equals(bad[0].value as Buffer))).toBeDefined();

    // Export: the manifest lists every part with a matching checksum, and the parts hold each completion once.
    const prefix = `exp-${id}/batch_id=${batch}/`;
    const manifest = JSON.parse((await getObject(bucket, `${prefix}manifest.json`)).toString()) as ManifestOut;
    expect(manifest.completions).toBe(good.length);
    expect(manifest.errors).toBe(1);
    const exported: string[] = [];
    for (const part of manifest.parts) {
      const body = await getObject(bucket, part.key);
      expect(createHash('sha256').update(body).digest('hex')).toBe(part.sha256);
      expect(body.length).toBe(part.bytes);
      const lines = body.toString().trim().split('\n');
      expect(lines).toHaveLength(part.records);
      exported.push(...lines.map((l) => (JSON.parse(l) as CompletionOut).job_id));
    }
    expect(exported.sort()).toEqual([...ids].sort());
    // No stray objects beside the listed parts.
    expect((await listKeys(bucket, prefix)).sort()).toEqual([...manifest.parts.map((p) => p.key), `${prefix}manifest.json`].sort());
  });

  /** A fresh jobs/results/DLQ topic set and group, n echo jobs produced, and the consumer args that name them. */
  async function batchOf(n: number) {
    const id = randomUUID().slice(0, 8);
    const topics = { jobs: `jobs-${id}`, results: `results-${id}`, dlq: `dlq-${id}` };
    const group = `group-${id}`;
    await createTopics(fx.admin, Object.values(topics), PARTITIONS);
    await produce(topics.jobs, asJson(jobs(`batch-${id}`, n)), PARTITIONS);
    return { id, topics, group, args: ['--jobs-topic', topics.jobs, '--results-topic', topics.results, '--dlq-topic', topics.dlq, '--group', group] };
  }

  it('commits as soon as the uncommitted backlog is full, without waiting for the commit timer', async () => {
    const { topics, group, args } = await batchOf(500);
    // A 10-minute timer: every commit before the worker has read everything comes from the backlog reaching --max-uncommitted.
    const c = startConsumer([...args, '--commit-interval-ms', '600000', '--max-uncommitted', '100', '--export', 'false']);
    await waitFor('commits driven by the full backlog', async () => (await committedTotal(fx.admin, group, topics.jobs)) >= 400);
    c.child.kill('SIGTERM');
    expect(await c.exited).toBe(0);
    // The drain commits what was taken; jobs not fetched yet stay for the next worker.
    const done = await committedTotal(fx.admin, group, topics.jobs);
    expect(done).toBeGreaterThanOrEqual(400);
    expect((await readCommitted(fx.admin, topics.results)).length).toBe(done);
  });

  it("commits a batch's last jobs as soon as it has read every partition to its end and the engine is empty", async () => {
    const { id, topics, group, args } = await batchOf(60);
    // A 10-minute timer and room for every job: only going idle can commit before the drain.
    const c = startConsumer([...args, '--commit-interval-ms', '600000', '--echo-delay-ms', '20'], s3Env(bucket, `idle-${id}`));
    await waitFor('the whole batch committed while the worker runs', async () => (await committedTotal(fx.admin, group, topics.jobs)) === 60);
    expect((await readCommitted(fx.admin, topics.results)).length).toBe(60);
    c.child.kill('SIGTERM');
    expect(await c.exited).toBe(0);
  });
});
