import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { LocalServiceError } from './errors';

/** The services infra/local can run. */
export const SERVICE_NAMES = ['kafka', 's3'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Fixed local identity S3Proxy accepts (SigV2 and SigV4); never used outside loopback. */
export const S3_CREDENTIALS = { accessKeyId: 'sluice', secretAccessKey: 'sluice-secret' } as const;
export const S3_REGION = 'us-east-1';
/** Services listen on loopback only. */
export const HOST = '127.0.0.1';

export interface LocalConfig {
  kafkaPort: number;
  kafkaControllerPort: number;
  /** Kafka's TLS listener (server certificate only); default: the Kafka port + 2. */
  kafkaTlsPort: number;
  /** Kafka's mutual-TLS listener (client certificate required); default: the Kafka port + 3. */
  kafkaMtlsPort: number;
  s3Port: number;
  /** Root of config, data, logs and pid files, one subdirectory per service. */
  dataDir: string;
  /** Where the service jars are cached (SLUICE_CACHE_DIR of install.mjs). */
  cacheDir: string;
  /** How long a start waits for a service to answer. */
  startTimeoutMs: number;
}

export type LocalConfigOverrides = Partial<LocalConfig>;

const DEFAULTS = { kafkaPort: 9092, kafkaControllerPort: 9093, s3Port: 9000, startTimeoutMs: 180_000 };

function intFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new LocalServiceError('BAD_CONFIG', `${name}="${raw}" is not valid: expected a whole number from ${min} to ${max}.`);
  }
  return value;
}

function checkPort(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new LocalServiceError('BAD_CONFIG', `${what} ${value} is not a valid TCP port: expected a whole number from 1 to 65535.`);
  }
}

/** Resolves settings: explicit overrides, then SLUICE_* environment variables, then defaults. */
export function resolveConfig(overrides: LocalConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env): LocalConfig {
  const kafkaPort = overrides.kafkaPort ?? intFromEnv(env, 'SLUICE_KAFKA_PORT', DEFAULTS.kafkaPort, 1, 65535);
  const config: LocalConfig = {
    kafkaPort,
    kafkaControllerPort:
      overrides.kafkaControllerPort ?? intFromEnv(env, 'SLUICE_KAFKA_CONTROLLER_PORT', DEFAULTS.kafkaControllerPort, 1, 65535),
    // Derived from the Kafka port so every suite's TLS listeners sit next to its own broker without a setting of their own.
    kafkaTlsPort: overrides.kafkaTlsPort ?? intFromEnv(env, 'SLUICE_KAFKA_TLS_PORT', kafkaPort + 2, 1, 65535),
    kafkaMtlsPort: overrides.kafkaMtlsPort ?? intFromEnv(env, 'SLUICE_KAFKA_MTLS_PORT', kafkaPort + 3, 1, 65535),
    s3Port: overrides.s3Port ?? intFromEnv(env, 'SLUICE_S3_PORT', DEFAULTS.s3Port, 1, 65535),
    dataDir: resolve(overrides.dataDir ?? (env.SLUICE_DATA_DIR || join(homedir(), '.local', 'share', 'sluice'))),
    cacheDir: resolve(overrides.cacheDir ?? (env.SLUICE_CACHE_DIR || join(homedir(), '.cache', 'sluice', 'infra'))),
    startTimeoutMs: overrides.startTimeoutMs ?? intFromEnv(env, 'SLUICE_START_TIMEOUT_MS', DEFAULTS.startTimeoutMs, 1000, 3_600_000),
  };
  checkPort(config.kafkaPort, 'Kafka port');
  checkPort(config.kafkaControllerPort, 'Kafka controller port');
  checkPort(config.kafkaTlsPort, 'Kafka TLS port (SLUICE_KAFKA_TLS_PORT, default Kafka port + 2)');
  checkPort(config.kafkaMtlsPort, 'Kafka mutual-TLS port (SLUICE_KAFKA_MTLS_PORT, default Kafka port + 3)');
  checkPort(config.s3Port, 'S3 port');
  const ports = [config.kafkaPort, config.kafkaControllerPort, config.kafkaTlsPort, config.kafkaMtlsPort, config.s3Port];
  if (new Set(ports).size !== ports.length) {
    throw new LocalServiceError(
      'BAD_CONFIG',
      `Kafka port ${config.kafkaPort}, Kafka controller port ${config.kafkaControllerPort}, Kafka TLS port ${config.kafkaTlsPort}, Kafka mutual-TLS port ${config.kafkaMtlsPort} and S3 port ${config.s3Port} must all differ.`,
    );
  }
  return config;
}

/** Parses a CLI/service argument: a service name or "all" (the default). */
export function parseServiceNames(arg: string | undefined): ServiceName[] {
  if (arg === undefined || arg === 'all') return [...SERVICE_NAMES];
  if ((SERVICE_NAMES as readonly string[]).includes(arg)) return [arg as ServiceName];
  throw new LocalServiceError('BAD_CONFIG', `Unknown service "${arg}": expected kafka, s3 or all.`);
}
