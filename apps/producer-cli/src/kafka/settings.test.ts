import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveKafkaSettings } from './settings';

describe('resolveKafkaSettings', () => {
  it('uses defaults, then variables, then flags', () => {
    expect(resolveKafkaSettings({}, {})).toMatchObject({ brokers: ['127.0.0.1:9092'], ssl: false, topics: { jobs: 'sluice.jobs', results: 'sluice.results', dlq: 'sluice.dlq', batches: 'sluice.batches' } });
    const env = { SLUICE_KAFKA_BROKERS: 'a:1,b:2', SLUICE_JOBS_TOPIC: 'env-jobs', SLUICE_KAFKA_SSL: 'true' };
    expect(resolveKafkaSettings({}, env)).toMatchObject({ brokers: ['a:1', 'b:2'], ssl: true, topics: { jobs: 'env-jobs' } });
    expect(resolveKafkaSettings({ brokers: 'c:3', jobsTopic: 'flag-jobs' }, env)).toMatchObject({ brokers: ['c:3'], topics: { jobs: 'flag-jobs' } });
  });

  it('takes TLS from flags or variables: on, or with a CA and a client certificate and key read from PEM files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-tls-'));
    for (const name of ['ca', 'cert', 'key']) writeFileSync(join(dir, `${name}.pem`), `${name} pem`);
    expect(resolveKafkaSettings({ kafkaSsl: true }, {}).ssl).toBe(true);
    expect(resolveKafkaSettings({ kafkaSsl: 'false' }, { SLUICE_KAFKA_SSL: 'true' }).ssl).toBe(false);
    expect(resolveKafkaSettings({ kafkaSslCa: join(dir, 'ca.pem') }, {}).ssl).toEqual({ ca: 'ca pem', cert: undefined, key: undefined });
    const env = { SLUICE_KAFKA_SSL_CERT: join(dir, 'cert.pem'), SLUICE_KAFKA_SSL_KEY: join(dir, 'key.pem') };
    expect(resolveKafkaSettings({}, env).ssl).toEqual({ ca: undefined, cert: 'cert pem', key: 'key pem' });
    expect(() => resolveKafkaSettings({ kafkaSslCert: join(dir, 'cert.pem') }, {})).toThrow('--kafka-ssl-key: mutual TLS needs both a client certificate and its key');
  });

  it('reads --schema-registry-url, and the old --schema-registry with a note', () => {
    expect(resolveKafkaSettings({ schemaRegistryUrl: 'http://reg:8081' }, {}).registryUrl).toBe('http://reg:8081');
    const written: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (written.push(String(chunk)), true));
    try {
      expect(resolveKafkaSettings({ schemaRegistry: 'http://old:8081' }, {}).registryUrl).toBe('http://old:8081');
    } finally {
      spy.mockRestore();
    }
    expect(written).toEqual(['sluice: --schema-registry is deprecated: use --schema-registry-url\n']);
  });

  it('takes SASL credentials from the environment only', () => {
    const s = resolveKafkaSettings({}, { SLUICE_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', SLUICE_KAFKA_SASL_USERNAME: 'u', SLUICE_KAFKA_SASL_PASSWORD: 'p' });
    expect(s.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'u', password: 'p' });
  });

  it.each([
    [{ brokers: 'localhost' }, {}, '--brokers: "localhost" is not host:port'],
    [{ brokers: 'h:70000' }, {}, '--brokers: "h:70000" is not host:port'],
    [{ jobsTopic: 'bad topic' }, {}, '--jobs-topic: "bad topic" is not a valid Kafka topic name'],
    [{}, { SLUICE_KAFKA_SSL: 'yes' }, '--kafka-ssl (SLUICE_KAFKA_SSL) must be true or false, got "yes"'],
    [{ kafkaSslCa: '/no/such/ca.pem' }, {}, '--kafka-ssl-ca (SLUICE_KAFKA_SSL_CA): cannot read /no/such/ca.pem: ENOENT'],
    [{ schemaRegistryUrl: 'localhost:8081' }, {}, '--schema-registry-url: "localhost:8081" is not an http(s) URL'],
    [{}, { SLUICE_KAFKA_SASL_MECHANISM: 'gssapi' }, 'SLUICE_KAFKA_SASL_MECHANISM must be plain, scram-sha-256 or scram-sha-512'],
    [{}, { SLUICE_KAFKA_SASL_MECHANISM: 'plain', SLUICE_KAFKA_SASL_USERNAME: 'u' }, 'SLUICE_KAFKA_SASL_USERNAME and SLUICE_KAFKA_SASL_PASSWORD are required'],
    [{ schemaRegistry: 'localhost:8081' }, {}, '--schema-registry: "localhost:8081" is not an http(s) URL'],
    [{ schemaRegistry: 'ftp://svc:cli-secret-3@reg:8081' }, {}, '--schema-registry: "ftp://***@reg:8081/" is not an http(s) URL'],
  ])('refuses flags %j env %j', (flags, env, message) => {
    expect(() => resolveKafkaSettings(flags, env)).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringContaining(message) }));
  });
});
