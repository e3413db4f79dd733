// The built bin with secrets set, against the suite's real broker (plaintext, so SASL fails): nothing secret is logged.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTopics, produce, s3Env, startConsumer, suiteFixture, waitFor } from './harness';

/** A schema registry that answers every request with HTTP 500 and remembers the Authorization headers it got. */
async function failingRegistry(): Promise<{ url: (userinfo: string) => string; authorizations: string[]; close: () => Promise<void> }> {
  const authorizations: string[] = [];
  const server: Server = createServer((req, res) => {
    authorizations.push(req.headers.authorization ?? '');
    res.writeHead(500, { 'content-type': 'application/json' }).end('{"message":"registry down"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: (userinfo) => `http://${userinfo}@127.0.0.1:${port}`, authorizations, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('sluice-consumer secrets', () => {
  it.each([
    ['SLUICE_KAFKA_SASL_PASSWORD', 'plain'],
    ['--sasl-password-file', 'scram-sha-512'],
  ])('never logs a SASL password given by %s, even at debug level when the brokers refuse SASL', async (source, mechanism) => {
    const password = `pw-${source.length}-never-logged-8812`;
    const dir = mkdtempSync(join(tmpdir(), 'sluice-secret-'));
    writeFileSync(join(dir, 'pw'), password);
    const args = ['--sasl-mechanism', mechanism, '--sasl-username', 'svc', '--log-level', 'debug', '--export', 'false'];
    const c = source === 'SLUICE_KAFKA_SASL_PASSWORD'
      ? startConsumer(args, { SLUICE_KAFKA_SASL_PASSWORD: password, AWS_SECRET_ACCESS_KEY: 'aws-never-logged-1177' })
      : startConsumer([...args, '--sasl-password-file', join(dir, 'pw')], { AWS_SECRET_ACCESS_KEY: 'aws-never-logged-1177' });
    expect(await c.exited).toBe(1);
    const out = c.logs.join('\n');
    expect(out).toContain('SASL');
    expect(out).toContain('"msg":"sluice-consumer failed"');
    expect(out).not.toContain(password);
    expect(out).not.toContain('aws-never-logged-1177');
  });

  describe('URL credentials', () => {
    const fx = suiteFixture('sluice-secrets');

    it('never logs the userinfo of --schema-registry-url or --s3-endpoint, even at debug level and on the registry error path', async () => {
      const secret = 'url-secret-never-logged-6620';
      const registry = await failingRegistry();
      const id = randomUUID().slice(0, 8);
      const topics = { jobs: `jobs-${id}`, results: `results-${id}`, dlq: `dlq-${id}` };
      await createTopics(fx.admin, Object.values(topics), 1);
      // A Confluent-framed job (magic 0, schema id 101): decoding it asks the registry, which fails.
      await produce(topics.jobs, [{ key: 'framed', value: Buffer.from([0, 0, 0, 0, 101, 2, 0]) }], 1);
      const env = s3Env(fx.bucket, `exp-${id}`);
      const c = startConsumer(
        ['--jobs-topic', topics.jobs, '--results-topic', topics.results, '--dlq-topic', topics.dlq, '--group', `group-${id}`, '--log-level', 'debug',
          '--schema-registry-url', registry.url(`svc:${secret}`), '--s3-endpoint', env.SLUICE_S3_ENDPOINT.replace('://', `://ak:${secret}@`)],
        { ...env, SLUICE_S3_ENDPOINT: '' },
      );
      try {
        await waitFor('a registry error in the log', () => c.logs.some((l) => l.includes('HTTP 500')));
      } finally {
        c.child.kill('SIGKILL');
        await c.exited;
        await registry.close();
      }
      const out = c.logs.join('\n');
      expect(registry.authorizations).toContain(`Basic ${Buffer.from(`svc:${secret}`).toString('base64')}`);
      const startup = c.logs.find((l) => l.includes('"msg":"sluice-consumer starting"')) ?? '';
      expect(startup).toContain(registry.url('***'));
      expect(startup).toMatch(/"endpoint":"http:\/\/\*\*\*@127\.0\.0\.1:\d+\/"/);
      expect(out).not.toContain(secret);
    });
  });
});
