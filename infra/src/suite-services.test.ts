import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalServiceError } from './errors';
import { suiteConfig } from './suite-services';

const defaults = { kafkaPort: 41092, kafkaControllerPort: 41093, s3Port: 41000, dataDirName: 'sluice-some-suite' };

describe('suiteConfig', () => {
  it("uses the suite's defaults, never the SLUICE_* ones a developer's services read", () => {
    const c = suiteConfig('SLUICE_X_TEST', defaults, { SLUICE_KAFKA_PORT: '9092', SLUICE_DATA_DIR: '/srv/mine' });
    expect(c).toMatchObject({ kafkaPort: 41092, kafkaControllerPort: 41093, kafkaTlsPort: 41094, kafkaMtlsPort: 41095, s3Port: 41000, dataDir: join(tmpdir(), 'sluice-some-suite') });
  });

  it('reads its own prefixed variables', () => {
    const c = suiteConfig('SLUICE_X_TEST', defaults, { SLUICE_X_TEST_KAFKA_PORT: '5001', SLUICE_X_TEST_S3_PORT: '5002', SLUICE_X_TEST_DATA_DIR: '/tmp/x-suite' });
    expect(c).toMatchObject({ kafkaPort: 5001, kafkaTlsPort: 5003, kafkaMtlsPort: 5004, s3Port: 5002, dataDir: '/tmp/x-suite' });
    const tls = suiteConfig('SLUICE_X_TEST', defaults, { SLUICE_X_TEST_KAFKA_TLS_PORT: '6001', SLUICE_X_TEST_KAFKA_MTLS_PORT: '6002', SLUICE_KAFKA_TLS_PORT: '7001' });
    expect(tls).toMatchObject({ kafkaTlsPort: 6001, kafkaMtlsPort: 6002 });
  });

  it('names the prefixed variable the suite reads when a value is bad', () => {
    let err: unknown;
    try {
      suiteConfig('SLUICE_X_TEST', defaults, { SLUICE_X_TEST_S3_PORT: '70000' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LocalServiceError);
    expect((err as Error).message).toMatch(/SLUICE_S3_PORT="70000" is not valid.*reads SLUICE_X_TEST_<NAME> in place of SLUICE_<NAME>/);
  });
});
