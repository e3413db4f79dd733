// Kafka connection and topic settings shared by every command: flags first, then SLUICE_* variables, then defaults.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { DEFAULT_TOPICS, redactUrl } from '@sluice/schema';
import { usageError } from '../errors';

/** TLS to the brokers: off, on with the system CAs, or with PEM CA / client certificate and key (mutual TLS). */
export type KafkaTls = boolean | { ca?: string; cert?: string; key?: string };

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  ssl: KafkaTls;
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
  topics: { jobs: string; results: string; dlq: string; batches: string };
  registryUrl?: string;
}

export const KAFKA_ENV = {
  brokers: 'SLUICE_KAFKA_BROKERS',
  ssl: 'SLUICE_KAFKA_SSL',
  sslCa: 'SLUICE_KAFKA_SSL_CA',
  sslCert: 'SLUICE_KAFKA_SSL_CERT',
  sslKey: 'SLUICE_KAFKA_SSL_KEY',
  saslMechanism: 'SLUICE_KAFKA_SASL_MECHANISM',
  saslUsername: 'SLUICE_KAFKA_SASL_USERNAME',
  saslPassword: 'SLUICE_KAFKA_SASL_PASSWORD',
  jobsTopic: 'SLUICE_JOBS_TOPIC',
  resultsTopic: 'SLUICE_RESULTS_TOPIC',
  dlqTopic: 'SLUICE_DLQ_TOPIC',
  batchesTopic: 'SLUICE_BATCHES_TOPIC',
  registryUrl: 'SLUICE_SCHEMA_REGISTRY_URL',
} as const;

/** Adds the connection flags to a command. Secrets (SASL password) come only from the environment, never a flag. */
export function addKafkaFlags(command: Command): Command {
  return command
    .option('--brokers <list>', `Kafka bootstrap servers, comma-separated (env ${KAFKA_ENV.brokers}; default 127.0.0.1:9092)`)
    .option('--jobs-topic <name>', `jobs topic (env ${KAFKA_ENV.jobsTopic}; default ${DEFAULT_TOPICS.jobs})`)
    .option('--results-topic <name>', `results topic (env ${KAFKA_ENV.resultsTopic}; default ${DEFAULT_TOPICS.results})`)
    .option('--dlq-topic <name>', `dead-letter topic (env ${KAFKA_ENV.dlqTopic}; default ${DEFAULT_TOPICS.dlq})`)
    .option('--batches-topic <name>', `batch manifests topic (env ${KAFKA_ENV.batchesTopic}; default ${DEFAULT_TOPICS.batches})`)
    .option('--schema-registry-url <url>', `Confluent Schema Registry URL; without it records use Avro single-object encoding (env ${KAFKA_ENV.registryUrl})`)
    .option('--schema-registry <url>', 'deprecated spelling of --schema-registry-url (the worker\'s name for it)')
    .option('--kafka-ssl [bool]', `TLS to the brokers (env ${KAFKA_ENV.ssl}; default false)`)
    .option('--kafka-ssl-ca <file>', `PEM CA bundle for the brokers, implies --kafka-ssl (env ${KAFKA_ENV.sslCa})`)
    .option('--kafka-ssl-cert <file>', `PEM client certificate for mutual TLS (env ${KAFKA_ENV.sslCert})`)
    .option('--kafka-ssl-key <file>', `PEM client key for mutual TLS (env ${KAFKA_ENV.sslKey})`);
}

/** Names the flags spelt as before the CLI took the worker's names: still read, with a note on stderr. */
const DEPRECATED_FLAGS: Record<string, string> = { schemaRegistry: '--schema-registry is deprecated: use --schema-registry-url' };

/** TLS from the flags or variables; a file that cannot be read is a usage error naming its flag. */
function tls(pick: (flag: string, variable: string) => string | undefined, flags: Record<string, unknown>): KafkaTls {
  const raw = flags.kafkaSsl === true ? 'true' : pick('kafkaSsl', KAFKA_ENV.ssl) ?? 'false';
  const text = raw.toLowerCase();
  if (!['true', 'false', '1', '0'].includes(text)) throw usageError(`--kafka-ssl (${KAFKA_ENV.ssl}) must be true or false, got "${raw}"`);
  const read = (flag: string, variable: string, name: string): string | undefined => {
    const path = pick(flag, variable);
    if (path === undefined) return undefined;
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw usageError(`${name} (${variable}): cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const files = { ca: read('kafkaSslCa', KAFKA_ENV.sslCa, '--kafka-ssl-ca'), cert: read('kafkaSslCert', KAFKA_ENV.sslCert, '--kafka-ssl-cert'), key: read('kafkaSslKey', KAFKA_ENV.sslKey, '--kafka-ssl-key') };
  if (!!files.cert !== !!files.key) throw usageError(`${files.cert ? '--kafka-ssl-key' : '--kafka-ssl-cert'}: mutual TLS needs both a client certificate and its key`);
  if (files.ca || files.cert) return files;
  return text === 'true' || text === '1';
}

function topicName(value: string, flag: string): string {
  if (!/^[A-Za-z0-9._-]{1,249}$/.test(value) || value === '.' || value === '..') throw usageError(`${flag}: "${value}" is not a valid Kafka topic name (letters, digits, . _ -; at most 249)`);
  return value;
}

export function resolveKafkaSettings(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): KafkaSettings {
  const pick = (flag: string, variable: string, fallback?: string): string | undefined => {
    const v = flags[flag] ?? env[variable];
    return typeof v === 'string' && v !== '' ? v : fallback;
  };
  const brokers = (pick('brokers', KAFKA_ENV.brokers, '127.0.0.1:9092') as string).split(',').map((b) => b.trim()).filter(Boolean);
  for (const broker of brokers) {
    const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(broker);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw usageError(`--brokers: "${broker}" is not host:port`);
  }
  if (brokers.length === 0) throw usageError('--brokers: no broker given');

  for (const [flag, note] of Object.entries(DEPRECATED_FLAGS)) if (flags[flag] !== undefined) process.stderr.write(`sluice: ${note}\n`);
  const ssl = tls(pick, flags);
  let sasl: KafkaSettings['sasl'];
  const mechanism = env[KAFKA_ENV.saslMechanism]?.toLowerCase();
  if (mechanism) {
    if (mechanism !== 'plain' && mechanism !== 'scram-sha-256' && mechanism !== 'scram-sha-512') throw usageError(`${KAFKA_ENV.saslMechanism} must be plain, scram-sha-256 or scram-sha-512, got "${mechanism}"`);
    const username = env[KAFKA_ENV.saslUsername];
    const password = env[KAFKA_ENV.saslPassword];
    if (!username || !password) throw usageError(`${KAFKA_ENV.saslMechanism} is set: ${KAFKA_ENV.saslUsername} and ${KAFKA_ENV.saslPassword} are required too`);
    sasl = { mechanism, username, password };
  }
  const registryFlag = flags.schemaRegistryUrl === undefined && flags.schemaRegistry !== undefined ? '--schema-registry' : '--schema-registry-url';
  const registryUrl = pick('schemaRegistryUrl', KAFKA_ENV.registryUrl) ?? pick('schemaRegistry', KAFKA_ENV.registryUrl);
  if (registryUrl && !/^https?:\/\/[^\s]+$/.test(registryUrl)) throw usageError(`${registryFlag}: "${redactUrl(registryUrl)}" is not an http(s) URL`);
  return {
    brokers,
    clientId: 'sluice-cli',
    ssl,
    sasl,
    registryUrl,
    topics: {
      jobs: topicName(pick('jobsTopic', KAFKA_ENV.jobsTopic, DEFAULT_TOPICS.jobs) as string, '--jobs-topic'),
      results: topicName(pick('resultsTopic', KAFKA_ENV.resultsTopic, DEFAULT_TOPICS.results) as string, '--results-topic'),
      dlq: topicName(pick('dlqTopic', KAFKA_ENV.dlqTopic, DEFAULT_TOPICS.dlq) as string, '--dlq-topic'),
      batches: topicName(pick('batchesTopic', KAFKA_ENV.batchesTopic, DEFAULT_TOPICS.batches) as string, '--batches-topic'),
    },
  };
}
