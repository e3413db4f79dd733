// The built sluice-consumer over the suite broker's mutual-TLS listener (infra's local CA and client certificate):
// a batch served end to end with the TLS flags, and a CA that does not know the broker refused at start in one line.
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localKafkaTls, writeTlsFiles } from '@sluice/infra';
import { asJson, createTopics, decodeCompletion, getObject, jobs, produce, readCommitted, s3Env, settings, startConsumer, suiteFixture, waitForCaughtUp } from './harness';

const tls = localKafkaTls(settings);

describe('sluice-consumer over Kafka mutual TLS', () => {
  const fx = suiteFixture('sluice-tls');

  function names(label: string) {
    const id = `${label}-${randomUUID().slice(0, 8)}`;
    return { jobs: `jobs-${id}`, results: `results-${id}`, dlq: `dlq-${id}`, group: `group-${id}`, batch: `batch-${id}`, prefix: `exp-${id}` };
  }
  const args = (t: ReturnType<typeof names>, ca: string) => [
    ...['--jobs-topic', t.jobs, '--results-topic', t.results, '--dlq-topic', t.dlq, '--group', t.group, '--commit-interval-ms', '200'],
    ...['--brokers', tls.mtlsBrokers.join(','), '--kafka-ssl-ca', ca, '--kafka-ssl-cert', tls.cert, '--kafka-ssl-key', tls.key],
  ];

  it('serves a batch with --kafka-ssl-ca, --kafka-ssl-cert and --kafka-ssl-key: results on Kafka and in the S3 export', async () => {
    const t = names('mtls');
    // Set up and checked over plaintext: the same broker, so only the worker talks TLS.
    await createTopics(fx.admin, [t.jobs, t.results, t.dlq], 2);
    const batch = jobs(t.batch, 6);
    await produce(t.jobs, asJson(batch), 2);
    const c = startConsumer(args(t, tls.ca), s3Env(fx.bucket, t.prefix));
    try {
      await waitForCaughtUp(fx.admin, t.group, t.jobs, 60_000);
    } catch (err) {
      c.child.kill('SIGTERM');
      throw new Error(`${(err as Error).message}\n${c.logs.slice(-20).join('\n')}`);
    }
    c.child.kill('SIGTERM');
    expect(await c.exited).toBe(0);

    const results = await Promise.all((await readCommitted(fx.admin, t.results)).map((m) => decodeCompletion(m.value)));
    expect(results.map((r) => r.job_id).sort()).toEqual(batch.map((j) => j.job_id).sort());
    for (const r of results) expect(r).toMatchObject({ error: null, outputs: [{ text: batch.find((j) => j.job_id === r.job_id)?.prompt }] });
    const manifest = JSON.parse((await getObject(fx.bucket, `${t.prefix}/batch_id=${t.batch}/manifest.json`)).toString()) as { completions: number };
    expect(manifest.completions).toBe(batch.length);
  });

  it('stops at start with one line when its CA does not know the broker', async () => {
    const t = names('wrong-ca');
    await createTopics(fx.admin, [t.jobs, t.results, t.dlq], 1);
    // An unrelated CA made the way infra makes the broker's.
    const other = await writeTlsFiles(join(mkdtempSync(join(tmpdir(), 'sluice-consumer-tls-')), 'other'));
    const started = Date.now();
    const c = startConsumer(args(t, other.ca), s3Env(fx.bucket, t.prefix));
    const code = await c.exited;
    const seconds = (Date.now() - started) / 1000;
    expect(code).toBe(2);
    expect(c.logs.filter((l) => l.startsWith('sluice-consumer: '))).toEqual([
      `sluice-consumer: --kafka-ssl-ca (SLUICE_KAFKA_SSL_CA): the brokers' certificate is not trusted: give the CA that signed it (Kafka at ${tls.mtlsBrokers.join(',')}: Connection error: self-signed certificate in certificate chain)`,
    ]);
    expect(c.logs.filter((l) => /^\s+at /.test(l))).toEqual([]);
    expect(c.logs.some((l) => l.includes('worker started'))).toBe(false);
    // Bounded by the start check's retries, not by a hang.
    expect(seconds).toBeLessThan(60);
  });
});
