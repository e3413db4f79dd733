// Jobs written by an upstream transactional producer whose transactions abort are never run, whatever order the
// aborts land in: kafkajs 2.2.4's read_committed filter let records through when the broker listed the aborted
// transactions out of first-offset order (patches/kafkajs+2.2.4.patch). The same reader reads our results topic.
import { randomUUID } from 'node:crypto';
import {
  asJson, createTopics, decodeCompletion, jobs, kafka, produce, readCommitted, s3Env, startConsumer, suiteFixture, waitForCaughtUp,
} from './harness';

describe('jobs from aborted upstream transactions', () => {
  const fx = suiteFixture('sluice-aborted');

  it('are invisible to read_committed and never run, even when a later-started transaction aborts first', async () => {
    const id = randomUUID().slice(0, 8);
    const t = { jobs: `jobs-${id}`, results: `results-${id}`, dlq: `dlq-${id}`, group: `group-${id}`, batch: `batch-${id}` };
    await createTopics(fx.admin, [t.jobs, t.results, t.dlq], 1);
    const upstream = (name: string) => kafka.producer({ transactionalId: `upstream-${name}-${id}`, idempotent: true, maxInFlightRequests: 1 });
    const [a, b] = [upstream('a'), upstream('b')];
    await Promise.all([a.connect(), b.connect()]);
    try {
      // A opens first and B aborts first: the broker lists B's abort before A's although A's first record comes earlier.
      const txA = await a.transaction();
      await txA.send({ topic: t.jobs, acks: -1, messages: asJson(jobs(`${t.batch}-aborted-a`, 3)) });
      const txB = await b.transaction();
      await txB.send({ topic: t.jobs, acks: -1, messages: asJson(jobs(`${t.batch}-aborted-b`, 3)) });
      await txA.send({ topic: t.jobs, acks: -1, messages: asJson(jobs(`${t.batch}-aborted-a`, 2, 3)) });
      await txB.abort();
      await txA.abort();
    } finally {
      await Promise.all([a.disconnect(), b.disconnect()]);
    }
    const good = jobs(t.batch, 5);
    await produce(t.jobs, asJson(good), 1);
    const expected = good.map((j) => j.job_id).sort();

    expect((await readCommitted(fx.admin, t.jobs)).map((m) => m.key).sort()).toEqual(expected);

    const worker = startConsumer(['--jobs-topic', t.jobs, '--results-topic', t.results, '--dlq-topic', t.dlq, '--group', t.group, '--commit-interval-ms', '100'], s3Env(fx.bucket, `exp-${id}`));
    try {
      await waitForCaughtUp(fx.admin, t.group, t.jobs);
    } finally {
      worker.child.kill('SIGTERM');
      await worker.exited;
    }
    const results = await readCommitted(fx.admin, t.results);
    expect((await Promise.all(results.map((m) => decodeCompletion(m.value)))).map((c) => c.job_id).sort()).toEqual(expected);
    expect(await readCommitted(fx.admin, t.dlq)).toEqual([]);
  });
});
