// The built bin with secrets set, against the suite's real broker (plaintext, so SASL fails): nothing secret is logged.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startConsumer } from './harness';

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
});
