import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalServiceError, localS3Config, resolveConfig, type LocalConfig, type LocalS3Config } from '@sluice/infra';

/**
 * Settings of the e2e run's own Kafka broker and S3 server: never the defaults (9092/9000) a developer's services use,
 * nor the infra suite's ports, so all of them can run at once. SLUICE_E2E_* variables override them, validated like
 * their SLUICE_* counterparts. The data dir is wiped at the start of every run.
 */
export function e2eSettings(env: NodeJS.ProcessEnv = process.env): LocalConfig {
  const mapped = {
    SLUICE_KAFKA_PORT: env.SLUICE_E2E_KAFKA_PORT || '19092',
    SLUICE_KAFKA_CONTROLLER_PORT: env.SLUICE_E2E_KAFKA_CONTROLLER_PORT || '19093',
    SLUICE_S3_PORT: env.SLUICE_E2E_S3_PORT || '19000',
    SLUICE_DATA_DIR: env.SLUICE_E2E_DATA_DIR || join(tmpdir(), 'sluice-e2e'),
    SLUICE_CACHE_DIR: env.SLUICE_CACHE_DIR,
    SLUICE_START_TIMEOUT_MS: env.SLUICE_START_TIMEOUT_MS,
  };
  try {
    return resolveConfig({}, mapped);
  } catch (err) {
    if (!(err instanceof LocalServiceError)) throw err;
    throw new LocalServiceError(err.code, `e2e settings: ${err.message} (the e2e run reads SLUICE_E2E_<NAME> in place of SLUICE_<NAME>)`);
  }
}

/** How tests reach the services the global setup started. */
export function e2eEndpoints(settings: LocalConfig = e2eSettings()): { brokers: string[]; s3: LocalS3Config } {
  return { brokers: [`127.0.0.1:${settings.kafkaPort}`], s3: localS3Config(settings.s3Port) };
}
