// Stopping the worker mid-batch, gracefully and by kill -9: a restart finishes the batch with nothing lost and
// no duplicate visible to a read_committed reader or in the export manifest.
import { randomUUID } from 'node:crypto';
import {
  asJson, committedTotal, createTopics, decodeCompletion, getObject, jobs, metricsPort, produce, readCommitted, s3Env, startConsumer, waitFor, waitForCaughtUp, type RunningConsumer, suiteFixture,
} from './harness';

const PARTITIONS = 3;
const TOTAL = 600;

interface ManifestOut {
  completions: number;
  parts: Array<{ key: string; records: number }>;
}

describe('sluice-consumer stopped mid-batch', () => {
  const fx = suiteFixture('sluice-restart');
  const bucket = fx.bucket;

  async function setup(label: string) {
    const id = `${label}-${randomUUID().slice(0, 8)}`;
    const t = { jobs: `jobs-${id}`, results: `results-${id}`, dlq: `dlq-${id}`, group: `group-${id}`, batch: `batch-${id}`, prefix: `exp-${id}` };
    await createTopics(fx.admin, [t.jobs, t.results, t.dlq], PARTITIONS);
    await produce(t.jobs, asJson(jobs(t.batch, TOTAL)), PARTITIONS);
    // Slow echo jobs, many in flight, frequent small commits: a stop always lands with work running and uncommitted.
    const args = ['--jobs-topic', t.jobs, '--results-topic', t.results, '--dlq-topic', t.dlq, '--group', t.group, '--echo-delay-ms', '40', '--max-in-flight', '60', '--commit-interval-ms', '100', '--max-part-records', '50', '--session-timeout-ms', '6000'];
    const start = (extra: string[] = []): RunningConsumer => startConsumer([...args, ...extra], s3Env(bucket, t.prefix));
    return { t, start };
  }

  async function expectExactlyOnce(t: { jobs: string; results: string; batch: string; prefix: string }): Promise<void> {
    const results = await readCommitted(fx.admin, t.results);
    const ids = (await Promise.all(results.map((m) => decodeCompletion(m.value)))).map((c) => c.job_id);
    expect(new Set(ids).size).toBe(TOTAL);
    expect(ids).toHaveLength(TOTAL);
    const manifest = JSON.parse((await getObject(bucket, `${t.prefix}/batch_id=${t.batch}/manifest.json`)).toString()) as ManifestOut;
    expect(manifest.completions).toBe(TOTAL);
    const exported: string[] = [];
    for (const p of manifest.parts) exported.push(...(await getObject(bucket, p.key)).toString().trim().split('\n').map((l) => (JSON.parse(l) as { job_id: string }).job_id));
    expect(exported).toHaveLength(TOTAL);
    expect(new Set(exported).size).toBe(TOTAL);
  }

  /** A fresh worker finishes the batch and drains on SIGTERM; every job is then there exactly once. */
  async function restartAndCheck({ t, start }: Awaited<ReturnType<typeof setup>>): Promise<void> {
    const second = start();
    await waitForCaughtUp(fx.admin, t.group, t.jobs);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    await expectExactlyOnce(t);
  }

  it('SIGTERM: drains and exits 0, and a restart completes the batch without loss or duplicates', async () => {
    const { t, start } = await setup('term');
    const first = start(['--drain-timeout', '20s']);
    await waitFor('some commits', async () => (await committedTotal(fx.admin, t.group, t.jobs)) >= 60);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    // 'exit' can fire before the stdout pipe is drained: wait for the line rather than look once.
    await waitFor('the "worker stopped" log line', () => first.logs.some((l) => l.includes('"msg":"worker stopped"')));
    const afterStop = await committedTotal(fx.admin, t.group, t.jobs);
    expect(afterStop).toBeLessThan(TOTAL);

    await restartAndCheck({ t, start });
  });

  it('POST /drain (the preStop hook) is refused as a GET, answers once drained from loopback, the worker exits 0 by itself, and a restart completes the batch', async () => {
    const { t, start } = await setup('prestop');
    const first = start(['--drain-timeout', '20s']);
    const port = await metricsPort(first);
    await waitFor('some commits', async () => (await committedTotal(fx.admin, t.group, t.jobs)) >= 60);
    const get = await fetch(`http://127.0.0.1:${port}/drain`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200); // neither started a drain
    const r = await fetch(`http://127.0.0.1:${port}/drain`, { method: 'POST' });
    expect(r.status).toBe(200);
    // The log line comes through the child's stdout pipe, which may lag the HTTP reply: wait for it.
    await waitFor('the "worker stopped" log line', () => first.logs.some((l) => l.includes('"msg":"worker stopped"')));
    expect(await first.exited).toBe(0); // on its own: the kubelet's SIGTERM after the hook finds it gone or leaving
    expect(await committedTotal(fx.admin, t.group, t.jobs)).toBeLessThan(TOTAL);

    await restartAndCheck({ t, start });
  });

  it('kill -9: a restart completes the batch; nothing lost, no duplicate visible to read_committed or in the manifest', async () => {
    const { t, start } = await setup('kill');
    const first = start();
    await waitFor('some commits', async () => (await committedTotal(fx.admin, t.group, t.jobs)) >= 100);
    first.child.kill('SIGKILL');
    await first.exited;
    expect(await committedTotal(fx.admin, t.group, t.jobs)).toBeLessThan(TOTAL);

    await restartAndCheck({ t, start });
  });

  it('a second signal exits at once without committing unfinished work', async () => {
    const { t, start } = await setup('twice');
    const first = start(['--drain-timeout', '60s', '--echo-delay-ms', '5000']);
    await waitFor('jobs in flight', () => first.logs.some((l) => l.includes('"msg":"partition acquired"')));
    await new Promise((r) => setTimeout(r, 1000));
    first.child.kill('SIGTERM');
    await waitFor('draining', () => first.logs.some((l) => l.includes('"msg":"draining"')));
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(143);
    expect(await committedTotal(fx.admin, t.group, t.jobs)).toBe(0);
  });
});
