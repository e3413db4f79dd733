// Kafka connection and topic settings shared by every command: flags first, then SLUICE_* variables, then defaults.
import type { Command } from 'commander';
import { DEFAULT_TOPICS, redactUrl } from '@sluice/schema';
import { usageError } from '../errors';

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  ssl: boolean;
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
  topics: { jobs: string; results: string; dlq: string; batches: string };
  registryUrl?: string;
}

export const KAFKA_ENV = {
  brokers: 'SLUICE_KAFKA_BROKERS',
  ssl: 'SLUICE_KAFKA_SSL',
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
    .option('--schema-registry <url>', `Confluent Schema Registry URL; without it records use Avro single-object encoding (env ${KAFKA_ENV.registryUrl})`);
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

  const sslText = (env[KAFKA_ENV.ssl] ?? 'false').toLowerCase();
  if (!['true', 'false', '1', '0'].includes(sslText)) throw usageError(`${KAFKA_ENV.ssl} must be true or false, got "${env[KAFKA_ENV.ssl]}"`);
  let sasl: KafkaSettings['sasl'];
  const mechanism = env[KAFKA_ENV.saslMechanism]?.toLowerCase();
  if (mechanism) {
    if (mechanism !== 'plain' && mechanism !== 'scram-sha-256' && mechanism !== 'scram-sha-512') throw usageError(`${KAFKA_ENV.saslMechanism} must be plain, scram-sha-256 or scram-sha-512, got "${mechanism}"`);
    const username = env[KAFKA_ENV.saslUsername];
    const password = env[KAFKA_ENV.saslPassword];
    if (!username || !password) throw usageError(`${KAFKA_ENV.saslMechanism} is set: ${KAFKA_ENV.saslUsername} and ${KAFKA_ENV.saslPassword} are required too`);
    sasl = { mechanism, username, password };
  }
  const registryUrl = pick('schemaRegistry', KAFKA_ENV.registryUrl);
  if (registryUrl && !/^https?:\/\/[^\s]+$/.test(registryUrl)) throw usageError(`--schema-registry: "${redactUrl(registryUrl)}" is not an http(s) URL`);
  return {
    brokers,
    clientId: 'sluice-cli',
    ssl: sslText === 'true' || sslText === '1',
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
