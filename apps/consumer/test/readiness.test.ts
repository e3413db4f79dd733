// /readyz against the real bin, Kafka and S3 while the broker refuses every commit of a partition (a null-key dead
// letter for a compacted DLQ): with a short --stall-timeout the partition is stalled, with a low --max-commit-failures
// commits keep failing. Each turns /readyz to 503 with its reason, and back to 200 once the topic is fixed.
import { randomUUID } from 'node:crypto';
import { ConfigResourceTypes, Partitioners } from 'kafkajs';
import {
  asJson, createTopics, decodeCompletion, jobs, kafka, metricsPort, produce, readCommitted, s3Env, sample, startConsumer, suiteFixture, waitFor, waitForCaughtUp,
} from './harness';

describe('sluice-consumer readiness', () => {
  const fx = suiteFixture('sluice-ready');

  function topics(label: string) {
    const id = `${label}-${randomUUID().slice(0, 8)}`;
    return { jobs: `jobs-${id}`, results: `results-${id}`, dlq: `dlq-${id}`, group: `group-${id}`, batch: `batch-${id}`, prefix: `exp-${id}` };
  }

  const setTopicConfig = (topic: string, name: string, value: string) =>
    fx.admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [{ name, value }] }] });

  async function readyz(base: string): Promise<{ status: number; body: string }> {
    const r = await fetch(`${base}/readyz`);
    return { status: r.status, body: await r.text() };
  }

  async function startWorker(t: ReturnType<typeof topics>, extra: string[]) {
    const worker = startConsumer(['--jobs-topic', t.jobs, '--results-topic', t.results, '--dlq-topic', t.dlq, '--group', t.group, ...extra], s3Env(fx.bucket, t.prefix));
    return { worker, base: `http://127.0.0.1:${await metricsPort(worker)}` };
  }

  /** A partition whose commits the broker refuses every time: a null-key dead letter for a compacted DLQ, then 3 good jobs. */
  async function blocked(label: string) {
    const t = topics(label);
    await createTopics(fx.admin, [t.jobs, t.results], 1);
    await fx.admin.createTopics({ topics: [{ topic: t.dlq, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }], waitForLeaders: true });
    // Undecodable bytes without a key: their dead letter is keyed like them (null), which a compacted topic refuses.
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({ topic: t.jobs, acks: -1, messages: [{ key: null, value: Buffer.from('not a job') }] });
    await producer.disconnect();
    await produce(t.jobs, asJson(jobs(t.batch, 3)), 1);
    return t;
  }

  /** Lets the commits through, then checks that every message was committed once. */
  async function unblock(t: ReturnType<typeof topics>): Promise<void> {
    await setTopicConfig(t.dlq, 'cleanup.policy', 'delete');
    await waitForCaughtUp(fx.admin, t.group, t.jobs);
    expect(await readCommitted(fx.admin, t.dlq)).toHaveLength(1);
    const ids = (await Promise.all((await readCommitted(fx.admin, t.results)).map((m) => decodeCompletion(m.value)))).map((c) => c.job_id);
    expect(ids.sort()).toEqual(jobs(t.batch, 3).map((j) => j.job_id).sort());
  }

  it('a partition with work pending and no progress for --stall-timeout is stalled: /readyz 503 with the reason, the gauge and a warning; recovered once it commits', async () => {
    const t = await blocked('stall');
    const { worker, base } = await startWorker(t, ['--stall-timeout', '3s', '--max-commit-failures', '1000000']);
    try {
      await waitFor('/readyz to say the partition is stalled', async () => (await readyz(base)).body.includes('stalled'));
      expect(await readyz(base)).toEqual({ status: 503, body: 'not ready: partition 0 stalled: work pending and no progress for 3 s\n' });
      const stalled = `sluice_partition_stalled{topic="${t.jobs}",partition="0"}`;
      expect(sample(await (await fetch(`${base}/metrics`)).text(), stalled)).toBe(1);
      expect((await fetch(`${base}/healthz`)).status).toBe(200); // alive: a restart would not help
      await waitFor('the stall warning', () => worker.logs.some((l) => l.includes('"msg":"partition stalled: work pending and no progress; /readyz fails"')));
      const warning = JSON.parse(worker.logs.find((l) => l.includes('"msg":"partition stalled'))!) as Record<string, unknown>;
      expect(warning).toMatchObject({ level: 40, partition: 0, in_flight: 0, uncommitted: 4, behind: false });

      await unblock(t);
      await waitFor('/readyz to pass', async () => (await readyz(base)).status === 200);
      expect(sample(await (await fetch(`${base}/metrics`)).text(), stalled)).toBe(0);
      await waitFor('the recovery line', () => worker.logs.some((l) => l.includes('"msg":"partition no longer stalled"')));
    } finally {
      worker.child.kill('SIGTERM');
      await worker.exited;
    }
  });

  it('commits the broker refuses every time make /readyz 503 after --max-commit-failures, and 200 after one succeeds', async () => {
    const t = await blocked('fail');
    const { worker, base } = await startWorker(t, ['--max-commit-failures', '2', '--commit-interval-ms', '200']);
    try {
      await waitFor('/readyz to fail', async () => (await readyz(base)).body.includes('commits failed in a row'));
      expect((await readyz(base)).body).toMatch(/^not ready: partition 0: \d+ commits failed in a row\n$/);
      expect(sample(await (await fetch(`${base}/metrics`)).text(), 'sluice_consecutive_commit_failures')).toBeGreaterThanOrEqual(2);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      await waitFor('the warning', () => worker.logs.some((l) => l.includes('"msg":"commits keep failing; /readyz fails until one succeeds"')));

      await unblock(t);
      await waitFor('/readyz to pass', async () => (await readyz(base)).status === 200);
      expect(sample(await (await fetch(`${base}/metrics`)).text(), 'sluice_consecutive_commit_failures')).toBe(0);
    } finally {
      worker.child.kill('SIGTERM');
      await worker.exited;
    }
  });
});
