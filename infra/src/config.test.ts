import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseServiceNames, resolveConfig } from './config';
import { LocalServiceError } from './errors';

describe('resolveConfig', () => {
  it('uses the documented defaults with an empty environment', () => {
    const config = resolveConfig({}, {});
    expect(config).toMatchObject({ kafkaPort: 9092, kafkaControllerPort: 9093, kafkaTlsPort: 9094, kafkaMtlsPort: 9095, s3Port: 9000, startTimeoutMs: 180_000 });
    expect(config.dataDir).toBe(join(homedir(), '.local', 'share', 'sluice'));
    expect(config.cacheDir).toBe(join(homedir(), '.cache', 'sluice', 'infra'));
  });

  it('reads SLUICE_* variables and lets explicit options win over them', () => {
    const env = { SLUICE_KAFKA_PORT: '1234', SLUICE_KAFKA_CONTROLLER_PORT: '1235', SLUICE_S3_PORT: '1240', SLUICE_DATA_DIR: '/tmp/x' };
    expect(resolveConfig({}, env)).toMatchObject({ kafkaPort: 1234, kafkaControllerPort: 1235, s3Port: 1240, dataDir: '/tmp/x' });
    expect(resolveConfig({ kafkaPort: 4000, dataDir: '/tmp/y' }, env)).toMatchObject({ kafkaPort: 4000, s3Port: 1240, dataDir: '/tmp/y' });
  });

  it('puts the TLS listeners next to the Kafka port unless told otherwise', () => {
    expect(resolveConfig({}, { SLUICE_KAFKA_PORT: '1234' })).toMatchObject({ kafkaTlsPort: 1236, kafkaMtlsPort: 1237 });
    expect(resolveConfig({ kafkaPort: 4000 }, { SLUICE_KAFKA_TLS_PORT: '5000', SLUICE_KAFKA_MTLS_PORT: '5001' })).toMatchObject({ kafkaTlsPort: 5000, kafkaMtlsPort: 5001 });
    expect(() => resolveConfig({}, { SLUICE_KAFKA_MTLS_PORT: 'x' })).toThrow('SLUICE_KAFKA_MTLS_PORT="x" is not valid: expected a whole number from 1 to 65535.');
    expect(() => resolveConfig({ kafkaPort: 65534 }, {})).toThrow(/Kafka TLS port \(SLUICE_KAFKA_TLS_PORT, default Kafka port \+ 2\) 65536 is not a valid TCP port/);
    expect(() => resolveConfig({ kafkaPort: 5000, s3Port: 5003 }, {})).toThrow(/Kafka mutual-TLS port 5003 and S3 port 5003 must all differ/);
  });

  it('names the variable and the accepted range when a value is bad', () => {
    expect(() => resolveConfig({}, { SLUICE_S3_PORT: 'abc' })).toThrow('SLUICE_S3_PORT="abc" is not valid: expected a whole number from 1 to 65535.');
    expect(() => resolveConfig({}, { SLUICE_KAFKA_PORT: '70000' })).toThrow(/SLUICE_KAFKA_PORT="70000"/);
    expect(() => resolveConfig({ s3Port: 0 })).toThrow(/S3 port 0 is not a valid TCP port/);
  });

  it('rejects two services on one port', () => {
    let error: unknown;
    try {
      resolveConfig({ kafkaPort: 5000, s3Port: 5000 }, {});
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(LocalServiceError);
    expect(error).toMatchObject({ code: 'BAD_CONFIG', message: expect.stringContaining('must all differ') });
  });
});

describe('parseServiceNames', () => {
  it('maps all or nothing to both services and accepts each name', () => {
    expect(parseServiceNames(undefined)).toEqual(['kafka', 's3']);
    expect(parseServiceNames('all')).toEqual(['kafka', 's3']);
    expect(parseServiceNames('s3')).toEqual(['s3']);
  });

  it('rejects an unknown service by name', () => {
    expect(() => parseServiceNames('minio')).toThrow('Unknown service "minio": expected kafka, s3 or all.');
  });
});
