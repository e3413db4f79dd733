// Two copies of one (batch_id, job_id) in a partition against the real bin, Kafka and S3: the copy that arrives while
// the first is running is not run and writes nothing, both offsets are committed; a copy after the commit runs.
import { randomUUID } from 'node:crypto';
import {
  asJson, createTopics, decodeCompletion, jobs, metricsPort, produce, readCommitted, s3Env, sample, startConsumer, suiteFixture, waitFor, waitForCaughtUp,
} from './harness';

describe('sluice-consumer with duplicate job ids', () => {
  const fx = suiteFixture('sluice-dup');

  it('runs one copy of a job whose twin is still running, commits past both, and runs a copy that comes after the commit', async () => {
    const id = randomUUID().slice(0, 8);
    const t = { jobs: `jobs-dup-${id}`, results: `results-dup-${id}`, dlq: `dlq-dup-${id}`, group: `group-dup-${id}`, batch: `batch-dup-${id}` };
    await createTopics(fx.admin, [t.jobs, t.results, t.dlq], 1);
    const [a, b, c] = jobs(t.batch, 3);
    await produce(t.jobs, asJson([a, a, b, c]), 1);
    // Echo jobs that take 500 ms: the second copy of a is taken while the first is still running.
    const worker = startConsumer(['--jobs-topic', t.jobs, '--results-topic', t.results, '--dlq-topic', t.dlq, '--group', t.group, '--echo-delay-ms', '500'], s3Env(fx.bucket, `exp-dup-${id}`));
    try {
      const port = await metricsPort(worker);
      await waitForCaughtUp(fx.admin, t.group, t.jobs);
      const completions = await Promise.all((await readCommitted(fx.admin, t.results)).map((m) => decodeCompletion(m.value)));
      expect(completions.map((x) => x.job_id).sort()).toEqual([a.job_id, b.job_id, c.job_id].sort());
      expect(completions.filter((x) => x.error !== null)).toEqual([]);
      expect(await readCommitted(fx.admin, t.dlq)).toEqual([]);
      const [committed] = await fx.admin.fetchOffsets({ groupId: t.group, topics: [t.jobs] });
      expect(committed.partitions).toEqual([expect.objectContaining({ partition: 0, offset: '4' })]);
      await waitFor('the duplicate log line', () => worker.logs.some((l) => l.includes('"msg":"duplicate job skipped')));
      const line = JSON.parse(worker.logs.find((l) => l.includes('"msg":"duplicate job skipped'))!) as Record<string, unknown>;
      expect(line).toMatchObject({ level: 30, job_id: a.job_id, batch_id: t.batch, partition: 0, offset: '1', first_partition: 0, first_offset: '0' });
      expect(sample(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(), 'sluice_jobs_duplicate_total')).toBe(1);

      // The first copy is committed now: a later copy (a re-run) runs; status and collect keep one per job.
      await produce(t.jobs, asJson([a]), 1);
      await waitForCaughtUp(fx.admin, t.group, t.jobs);
      const after = await Promise.all((await readCommitted(fx.admin, t.results)).map((m) => decodeCompletion(m.value)));
      expect(after.filter((x) => x.job_id === a.job_id && x.error === null)).toHaveLength(2);
    } finally {
      worker.child.kill('SIGTERM');
      await worker.exited;
    }
  });

  it('commits the copy in another partition in a transaction of its offset alone', async () => {
    const id = randomUUID().slice(0, 8);
    const t = { jobs: `jobs-dup2-${id}`, results: `results-dup2-${id}`, dlq: `dlq-dup2-${id}`, group: `group-dup2-${id}`, batch: `batch-dup2-${id}` };
    await createTopics(fx.admin, [t.jobs, t.results, t.dlq], 2);
    const [a] = jobs(t.batch, 1);
    await produce(t.jobs, asJson([a, a]), 2); // one copy in each partition, both fetched before either finishes
    const worker = startConsumer(['--jobs-topic', t.jobs, '--results-topic', t.results, '--dlq-topic', t.dlq, '--group', t.group, '--echo-delay-ms', '1000'], s3Env(fx.bucket, `exp-dup2-${id}`));
    try {
      await waitForCaughtUp(fx.admin, t.group, t.jobs);
      const completions = await Promise.all((await readCommitted(fx.admin, t.results)).map((m) => decodeCompletion(m.value)));
      expect(completions.map((x) => [x.job_id, x.error])).toEqual([[a.job_id, null]]);
      const [committed] = await fx.admin.fetchOffsets({ groupId: t.group, topics: [t.jobs] });
      expect(committed.partitions.map((p) => [p.partition, p.offset]).sort()).toEqual([[0, '1'], [1, '1']]);
    } finally {
      worker.child.kill('SIGTERM');
      await worker.exited;
    }
  });
});
