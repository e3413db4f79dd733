// Poison messages against the built bin, real Kafka and S3: each is dead-lettered with its reason, the worker stays up.
import { randomUUID } from 'node:crypto';
import { createTopics, decodeCompletion, decodeDeadLetter, metricsPort, produce, readCommitted, s3Env, startConsumer, suiteFixture, waitForCaughtUp, type RunningConsumer } from './harness';
import { hugeArrayJob, hugeMapJob, invalidUtf8Job, nanTemperatureJob } from './poison-records';

const MAX_MESSAGE_BYTES = 4096;

/** Asks /healthz every 100 ms until stopped; a probe that gets no answer within 5 s counts as a failure. */
function probeHealth(c: RunningConsumer): { stop: () => Promise<Array<number | string>> } {
  const answers: Array<number | string> = [];
  let running = true;
  const loop = (async () => {
    const base = `http://127.0.0.1:${await metricsPort(c)}`;
    while (running) {
      answers.push(await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(5000) }).then((r) => r.status, (e: Error) => e.message));
      await new Promise((r) => setTimeout(r, 100));
    }
  })().catch((e: Error) => answers.push(`no probe: ${e.message}`));
  return { stop: async () => ((running = false), await loop, answers) };
}

describe('sluice-consumer and poison messages (echo engine, real Kafka + S3)', () => {
  const fx = suiteFixture('sluice-poison');

  it('dead-letters each poison message once with its reason, stays up and healthy, and runs the good jobs around them exactly once', async () => {
    const id = randomUUID().slice(0, 8);
    const topics = { jobs: `jobs-${id}`, results: `results-${id}`, dlq: `dlq-${id}` };
    const group = `group-${id}`;
    const batch = `batch-${id}`;
    // One partition: the good job after the poison can only be committed once the worker has got past all of it.
    await createTopics(fx.admin, Object.values(topics), 1);
    const good = (n: number) => ({ key: `good-${n}`, value: JSON.stringify({ job_id: `good-${n}`, batch_id: batch, prompt: `good prompt ${n}`, created_at: Date.now() }) });
    const poison = [
      { key: 'map-2^40', value: hugeMapJob(), code: 'UNDECODABLE', reason: [/metadata/, /1099511627776/] },
      { key: 'array-2^31', value: hugeArrayJob(), code: 'UNDECODABLE', reason: [/messages/, /2147483648/] },
      { key: 'bad-utf8', value: invalidUtf8Job('bad-utf8', batch), code: 'INVALID_UTF8', reason: [/prompt/, /UTF-8/] },
      { key: 'nan-temp', value: nanTemperatureJob('nan-temp', batch), code: 'INVALID_SAMPLING', reason: [/sampling\.temperature/, /NaN/] },
      { key: 'too-big', value: Buffer.from(JSON.stringify({ job_id: 'too-big', batch_id: batch, prompt: 'x'.repeat(MAX_MESSAGE_BYTES) })), code: 'MESSAGE_TOO_LARGE', reason: [/over the limit of 4096/] },
    ];
    expect(poison.map((p) => p.value.length).slice(0, 2)).toEqual([59, 58]);
    await produce(topics.jobs, [good(1), ...poison.map(({ key, value }) => ({ key, value })), good(2)], 1);

    const answers: Array<number | string> = [];
    const c = startConsumer(
      ['--jobs-topic', topics.jobs, '--results-topic', topics.results, '--dlq-topic', topics.dlq, '--group', group, '--max-message-bytes', String(MAX_MESSAGE_BYTES), '--commit-interval-ms', '200'],
      s3Env(fx.bucket, `poison-${id}`),
    );
    const health = probeHealth(c);
    try {
      await waitForCaughtUp(fx.admin, group, topics.jobs, 90_000);
    } catch (err) {
      c.child.kill('SIGKILL'); // a worker stuck on a record ignores SIGTERM
      throw new Error(`${(err as Error).message}\n${c.logs.slice(-30).join('\n')}`);
    } finally {
      answers.push(...(await health.stop()));
    }
    expect(c.child.exitCode).toBeNull();
    expect(answers.length).toBeGreaterThan(0);
    expect(answers.filter((a) => a !== 200)).toEqual([]);

    c.child.kill('SIGTERM');
    expect(await c.exited).toBe(0);

    const results = await Promise.all((await readCommitted(fx.admin, topics.results)).map((m) => decodeCompletion(m.value)));
    expect(results.map((r) => r.job_id).sort()).toEqual(['good-1', 'good-2']);
    expect(results.every((r) => r.error === null)).toBe(true);

    const dead = await Promise.all((await readCommitted(fx.admin, topics.dlq)).map((m) => decodeDeadLetter(m.value)));
    expect(dead.map((d) => d.key?.toString()).sort()).toEqual(poison.map((p) => p.key).sort());
    for (const p of poison) {
      const d = dead.find((x) => x.key?.toString() === p.key)!;
      expect({ key: p.key, code: d.error_code }).toEqual({ key: p.key, code: p.code });
      for (const r of p.reason) expect(d.error_message).toMatch(r);
      expect(d.value?.equals(p.value)).toBe(true);
      expect(d.source_topic).toBe(topics.jobs);
    }
  });

  it('a job that breaks the engine: the worker starts a new engine, runs the others again, dead-letters that job (ENGINE_CRASHED) and stays up', async () => {
    const id = randomUUID().slice(0, 8);
    const topics = { jobs: `jobs-${id}`, results: `results-${id}`, dlq: `dlq-${id}` };
    const group = `group-${id}`;
    const batch = `batch-${id}`;
    await createTopics(fx.admin, Object.values(topics), 2);
    const job = (n: number, prompt = `prompt ${n}`) => ({ key: `job-${n}`, value: JSON.stringify({ job_id: `job-${n}`, batch_id: batch, prompt, created_at: Date.now() }) });
    const jobs = Array.from({ length: 60 }, (_, n) => (n === 23 ? job(n, 'break the engine') : job(n)));
    await produce(topics.jobs, jobs, 2);

    const c = startConsumer(
      ['--jobs-topic', topics.jobs, '--results-topic', topics.results, '--dlq-topic', topics.dlq, '--group', group, '--echo-delay-ms', '30', '--echo-break-on', 'break the engine', '--commit-interval-ms', '200'],
      s3Env(fx.bucket, `crash-${id}`),
    );
    try {
      await waitForCaughtUp(fx.admin, group, topics.jobs, 90_000);
    } catch (err) {
      c.child.kill('SIGKILL');
      throw new Error(`${(err as Error).message}\n${c.logs.slice(-30).join('\n')}`);
    }
    expect(c.child.exitCode).toBeNull();
    expect(c.logs.some((l) => l.includes('engine failed: starting a new one'))).toBe(true);
    c.child.kill('SIGTERM');
    expect(await c.exited).toBe(0);

    const results = await Promise.all((await readCommitted(fx.admin, topics.results)).map((m) => decodeCompletion(m.value)));
    expect(results.map((r) => r.job_id).sort()).toEqual(jobs.filter((_, n) => n !== 23).map((j) => j.key).sort());
    expect(results.every((r) => r.error === null)).toBe(true);
    const dead = await Promise.all((await readCommitted(fx.admin, topics.dlq)).map((m) => decodeDeadLetter(m.value)));
    expect(dead.map((d) => [d.job_id, d.error_code])).toEqual([['job-23', 'ENGINE_CRASHED']]);
  });
});
