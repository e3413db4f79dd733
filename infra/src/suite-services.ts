// A test suite's own Kafka and S3: ports and data dir of its own, and the jest global setup/teardown that run them.
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig, type LocalConfig } from './config';
import { LocalServiceError } from './errors';
import { startLocalServices, stopLocalServices, type LocalServices } from './local-services';

export interface SuiteDefaults {
  kafkaPort: number;
  kafkaControllerPort: number;
  s3Port: number;
  /** Directory name under the OS temp dir. */
  dataDirName: string;
}

/**
 * The suite's settings: `<PREFIX>_KAFKA_PORT`, `<PREFIX>_KAFKA_CONTROLLER_PORT`, `<PREFIX>_KAFKA_TLS_PORT`,
 * `<PREFIX>_KAFKA_MTLS_PORT`, `<PREFIX>_S3_PORT` and `<PREFIX>_DATA_DIR` in place of their SLUICE_* names (validated
 * the same way), else the suite's defaults, so suites never share services with each other or with a developer's
 * own on the default ports.
 */
export function suiteConfig(envPrefix: string, defaults: SuiteDefaults, env: NodeJS.ProcessEnv = process.env): LocalConfig {
  const pick = (name: string, fallback: string) => env[`${envPrefix}_${name}`] || fallback;
  try {
    return resolveConfig({}, {
      SLUICE_KAFKA_PORT: pick('KAFKA_PORT', String(defaults.kafkaPort)),
      SLUICE_KAFKA_CONTROLLER_PORT: pick('KAFKA_CONTROLLER_PORT', String(defaults.kafkaControllerPort)),
      // Unset: next to the suite's Kafka port (+2, +3), as resolveConfig derives them.
      SLUICE_KAFKA_TLS_PORT: pick('KAFKA_TLS_PORT', ''),
      SLUICE_KAFKA_MTLS_PORT: pick('KAFKA_MTLS_PORT', ''),
      SLUICE_S3_PORT: pick('S3_PORT', String(defaults.s3Port)),
      SLUICE_DATA_DIR: pick('DATA_DIR', join(tmpdir(), defaults.dataDirName)),
      SLUICE_CACHE_DIR: env.SLUICE_CACHE_DIR,
      SLUICE_START_TIMEOUT_MS: env.SLUICE_START_TIMEOUT_MS,
    });
  } catch (err) {
    if (!(err instanceof LocalServiceError)) throw err;
    throw new LocalServiceError(err.code, `${err.message} (this suite reads ${envPrefix}_<NAME> in place of SLUICE_<NAME>)`);
  }
}

// jest loads globalSetup and globalTeardown as separate modules in one process: the handle lives on globalThis.
const holder = globalThis as { __SLUICE_SUITE_SERVICES__?: Map<string, LocalServices> };
const registry = (holder.__SLUICE_SUITE_SERVICES__ ??= new Map<string, LocalServices>());

/**
 * jest globalSetup: stops what an interrupted run of this suite left up (found by its pid files, never by name),
 * wipes the data dir, and starts both services once for the run.
 */
export async function startSuiteServices(config: LocalConfig): Promise<LocalServices> {
  await stopLocalServices(config);
  rmSync(config.dataDir, { recursive: true, force: true });
  const services = await startLocalServices(config);
  registry.set(config.dataDir, services);
  return services;
}

/** jest globalTeardown: stops only what startSuiteServices started for this data dir. */
export async function stopSuiteServices(config: LocalConfig): Promise<void> {
  await registry.get(config.dataDir)?.stop();
  registry.delete(config.dataDir);
}
