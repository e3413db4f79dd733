// The worker's start against real Kafka and S3 when something it needs is missing: one line naming the setting and
// what is wrong, exit 2, and no topic auto-created. An S3 outage after a healthy start is logged at a decaying rate,
// and the worker commits everything once the bucket is back.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { CreateBucketCommand, DeleteBucketCommand } from '@aws-sdk/client-s3';
import { asJson, brokers, createTopics, jobs, produce, s3, s3Config, s3Env, startConsumer, suiteFixture, waitFor, waitForCaughtUp } from './harness';

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('sluice-consumer fails fast', () => {
  const fx = suiteFixture('sluice-failfast');

  function names(label: string) {
    const id = `${label}-${randomUUID().slice(0, 8)}`;
    return { jobs: `jobs-${id}`, results: `results-${id}`, dlq: `dlq-${id}`, group: `group-${id}`, batch: `batch-${id}`, prefix: `exp-${id}` };
  }
  const args = (t: ReturnType<typeof names>) => ['--jobs-topic', t.jobs, '--results-topic', t.results, '--dlq-topic', t.dlq, '--group', t.group];

  /** Runs the worker to its exit; returns the exit code, its one-line verdicts and any stack trace lines. */
  async function failedStart(argv: string[], env: Record<string, string>) {
    const c = startConsumer(argv, env);
    const code = await c.exited;
    return { code, verdicts: c.logs.filter((l) => l.startsWith('sluice-consumer: ')), stack: c.logs.filter((l) => /^\s+at /.test(l)) };
  }

  it.each([['jobs', '--jobs-topic (SLUICE_JOBS_TOPIC)'], ['dlq', '--dlq-topic (SLUICE_DLQ_TOPIC)']] as const)('a missing %s topic: one line naming it, and the broker does not create it', async (which, label) => {
    const t = names(`no-${which}`);
    await createTopics(fx.admin, [t.jobs, t.results, t.dlq].filter((x) => x !== t[which]), 1);
    const run = await failedStart(args(t), s3Env(fx.bucket, t.prefix));
    expect(run).toEqual({ code: 2, verdicts: [`sluice-consumer: ${label}: topic "${t[which]}" does not exist on ${brokers.join(',')}; create it first (sluice produce --create-topics does)`], stack: [] });
    expect(await fx.admin.listTopics()).not.toContain(t[which]);
  });

  it('a missing bucket: one line naming the bucket and the endpoint', async () => {
    const t = names('no-bucket');
    await createTopics(fx.admin, [t.jobs, t.results, t.dlq], 1);
    const run = await failedStart(args(t), s3Env(`missing-${t.group.slice(-8)}`, t.prefix));
    expect(run).toEqual({ code: 2, verdicts: [`sluice-consumer: --s3-bucket (SLUICE_S3_BUCKET): S3 bucket "missing-${t.group.slice(-8)}" does not exist at ${s3Config.endpoint}`], stack: [] });
  });

  it('a wrong S3 endpoint: one line naming the endpoint', async () => {
    const t = names('bad-endpoint');
    await createTopics(fx.admin, [t.jobs, t.results, t.dlq], 1);
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const run = await failedStart(args(t), { ...s3Env(fx.bucket, t.prefix), SLUICE_S3_ENDPOINT: endpoint });
    expect(run.code).toBe(2);
    expect(run.stack).toEqual([]);
    expect(run.verdicts).toHaveLength(1);
    expect(run.verdicts[0]).toMatch(new RegExp(`^sluice-consumer: --s3-endpoint \\(SLUICE_S3_ENDPOINT\\): cannot reach S3 bucket "${fx.bucket}": .*ECONNREFUSED.* at ${endpoint}$`));
  });

  it('unreachable brokers: one line naming them', async () => {
    const t = names('no-kafka');
    const dead = `127.0.0.1:${await closedPort()}`;
    const run = await failedStart(args(t), { ...s3Env(fx.bucket, t.prefix), SLUICE_KAFKA_BROKERS: dead });
    expect(run.code).toBe(2);
    expect(run.stack).toEqual([]);
    expect(run.verdicts).toHaveLength(1);
    expect(run.verdicts[0]).toMatch(new RegExp(`^sluice-consumer: --brokers \\(SLUICE_KAFKA_BROKERS\\): cannot reach Kafka at ${dead}: `));
  });

  it('--model with --engine echo is refused', async () => {
    const t = names('echo-model');
    const run = await failedStart([...args(t), '--engine', 'echo', '--model', __dirname], s3Env(fx.bucket, t.prefix));
    expect(run).toEqual({ code: 2, verdicts: ['sluice-consumer: --model (SLUICE_MODEL): applies only with --engine llm (the echo engine runs no model)'], stack: [] });
  });

  it('a healthy start logs nothing at error level, in JSON when piped and in pretty lines with --log-format pretty', async () => {
    const t = names('healthy');
    await createTopics(fx.admin, [t.jobs, t.results, t.dlq], 2);
    await produce(t.jobs, asJson(jobs(t.batch, 4)), 2);
    const json = startConsumer(args(t), s3Env(fx.bucket, t.prefix));
    const pretty = startConsumer([...args(t), '--log-format', 'pretty', '--client-id', 'pretty'], s3Env(fx.bucket, t.prefix));
    try {
      await waitFor('both workers to start', () => [json, pretty].every((c) => c.logs.some((l) => l.includes('worker started'))));
      await waitForCaughtUp(fx.admin, t.group, t.jobs);
      // A second member joining makes the group rebalance, which kafkajs reports as errors it retries.
      const levels = json.logs.map((l) => (JSON.parse(l) as { level: number }).level);
      expect(levels.filter((level) => level >= 50)).toEqual([]);
      const started = pretty.logs.find((l) => l.includes('worker started'))!;
      expect(started).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] \x1b\[32mINFO\x1b\[39m.*worker started/);
      expect(pretty.logs.filter((l) => /\b(ERROR|FATAL)\b/.test(l))).toEqual([]);
      expect([...json.logs, ...pretty.logs].filter((l) => l.includes('NodeVersionSupportWarning'))).toEqual([]);
    } finally {
      for (const c of [json, pretty]) c.child.kill('SIGTERM');
      await Promise.all([json.exited, pretty.exited]);
    }
  });

  it('an S3 outage after the start logs at a decaying rate, and everything commits once the bucket is back', async () => {
    const t = names('outage');
    const bucket = `outage-${t.group.slice(-8)}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await createTopics(fx.admin, [t.jobs, t.results, t.dlq], 1);
    const c = startConsumer([...args(t), '--commit-interval-ms', '100'], s3Env(bucket, t.prefix));
    try {
      await waitFor('the worker to start', () => c.logs.some((l) => l.includes('"msg":"worker started"')));
      await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
      await produce(t.jobs, asJson(jobs(t.batch, 20)), 1);
      const from = c.logs.length;
      // Without a limit: a retry line every 0.1-3 s per upload and a commit line every commit interval.
      await new Promise((r) => setTimeout(r, 12_000));
      const lines = c.logs.slice(from);
      const retries = lines.filter((l) => l.includes('failed, retrying')).length;
      const commits = lines.filter((l) => l.includes('commit failed; the range is retried')).length;
      // The first line of each at once, then after 1, 3 and 7 s (11 s would be a fifth, at the edge of the window).
      expect(retries).toBeGreaterThanOrEqual(1);
      expect(retries).toBeLessThanOrEqual(5);
      expect(commits).toBeLessThanOrEqual(5);
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      await waitForCaughtUp(fx.admin, t.group, t.jobs);
    } finally {
      c.child.kill('SIGTERM');
      await c.exited;
    }
  });
});
