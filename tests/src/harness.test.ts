import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { e2eEndpoints, e2eSettings } from './harness';

describe('e2e settings', () => {
  it('keep clear of the default and infra-suite ports and use their own data dir', () => {
    const settings = e2eSettings({});
    expect(settings).toMatchObject({ kafkaPort: 19092, kafkaControllerPort: 19093, s3Port: 19000, dataDir: join(tmpdir(), 'sluice-e2e') });
    expect(e2eEndpoints(settings)).toEqual({
      brokers: ['127.0.0.1:19092'],
      s3: { endpoint: 'http://127.0.0.1:19000', region: 'us-east-1', credentials: { accessKeyId: 'sluice', secretAccessKey: 'sluice-secret' }, forcePathStyle: true },
    });
  });

  it('ignore the developer-facing SLUICE_* ports and honour SLUICE_E2E_* ones', () => {
    expect(e2eSettings({ SLUICE_KAFKA_PORT: '9092', SLUICE_E2E_S3_PORT: '19500' })).toMatchObject({ kafkaPort: 19092, s3Port: 19500 });
    expect(() => e2eSettings({ SLUICE_E2E_KAFKA_PORT: 'x' })).toThrow(/^SLUICE_KAFKA_PORT="x" is not valid.*reads SLUICE_E2E_<NAME> in place of SLUICE_<NAME>/);
  });
});
