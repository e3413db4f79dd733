import { localS3Config, suiteConfig, type LocalConfig, type LocalS3Config } from '@sluice/infra';

/**
 * Settings of the e2e run's own Kafka broker and S3 server: never the defaults (9092/9000) a developer's services use,
 * nor another suite's ports, so all of them can run at once. SLUICE_E2E_* variables override them. The data dir is
 * wiped at the start of every run.
 */
export function e2eSettings(env: NodeJS.ProcessEnv = process.env): LocalConfig {
  return suiteConfig('SLUICE_E2E', { kafkaPort: 19092, kafkaControllerPort: 19093, s3Port: 19000, dataDirName: 'sluice-e2e' }, env);
}

/** How tests reach the services the global setup started. */
export function e2eEndpoints(settings: LocalConfig = e2eSettings()): { brokers: string[]; s3: LocalS3Config } {
  return { brokers: [`127.0.0.1:${settings.kafkaPort}`], s3: localS3Config(settings.s3Port) };
}
