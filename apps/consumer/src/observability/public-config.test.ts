import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { resolveConfig } from '../config';
import { createLogger } from './logger';
import { publicConfig } from './public-config';

describe('publicConfig', () => {
  it('keeps SASL, TLS and AWS secrets out of the startup log line, and says which were set', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-secrets-'));
    for (const [f, text] of [['ca.pem', 'CA-TEXT'], ['cert.pem', 'CERT-TEXT'], ['key.pem', 'KEY-SECRET-TEXT'], ['pw', 'pw-from-file-9431']]) writeFileSync(join(dir, f), text);
    const env = { AWS_SECRET_ACCESS_KEY: 'aws-secret-5512', AWS_SESSION_TOKEN: 'aws-token-7781', SLUICE_S3_BUCKET: 'results' };
    const argv = ['--kafka-ssl-ca', join(dir, 'ca.pem'), '--kafka-ssl-cert', join(dir, 'cert.pem'), '--kafka-ssl-key', join(dir, 'key.pem'), '--sasl-mechanism', 'scram-sha-512', '--sasl-username', 'svc', '--sasl-password-file', join(dir, 'pw')];
    const config = resolveConfig(argv, env);
    expect(config.sasl?.password).toBe('pw-from-file-9431');

    const lines: string[] = [];
    const log = createLogger('info', 'w1', new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) }));
    log.info({ config: publicConfig(config) }, 'sluice-consumer starting');
    const out = lines.join('');
    for (const secret of ['pw-from-file-9431', 'KEY-SECRET-TEXT', 'CERT-TEXT', 'aws-secret-5512', 'aws-token-7781']) expect(out).not.toContain(secret);
    expect(publicConfig(config)).toMatchObject({ sasl: { mechanism: 'scram-sha-512', username: 'svc' }, ssl: { ca: true, cert: true, key: true, rejectUnauthorized: true } });
  });

  it('keeps a password given by SLUICE_KAFKA_SASL_PASSWORD out too', () => {
    const config = resolveConfig(['--sasl-mechanism', 'plain', '--sasl-username', 'u'], { SLUICE_KAFKA_SASL_PASSWORD: 'env-pw-3321' });
    expect(JSON.stringify(publicConfig(config))).not.toContain('env-pw-3321');
  });

  it('shows the schema registry and S3 endpoint URLs without their credentials', () => {
    const config = resolveConfig(['--schema-registry-url', 'http://svc:reg-secret-77@reg:8081', '--s3-bucket', 'results', '--s3-endpoint', 'http://ak:s3-secret-88@s3:9000']);
    const shown = publicConfig(config);
    expect(JSON.stringify(shown)).not.toMatch(/secret-(77|88)/);
    expect(shown).toMatchObject({ schemaRegistryUrl: 'http://***@reg:8081/', export: { kind: 's3', bucket: 'results', endpoint: 'http://***@s3:9000/' } });
    expect(config.schemaRegistryUrl).toBe('http://svc:reg-secret-77@reg:8081');
  });
});
