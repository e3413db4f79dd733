// The kafkajs client and the record codecs for the configured settings; kafkajs logs go through pino.
import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import { kafkaTlsFailure, RecordCodec, SchemaRegistryClient, type SchemaFamily } from '@sluice/schema';
import { CliError, EXIT } from '../errors';
import { logger } from '../logger';
import type { KafkaSettings } from './settings';

function logCreator() {
  return ({ level, log }: LogEntry) => {
    const { message, ...extra } = log;
    // kafkajs logs each retry as an error; the command's own failure message is the error users see.
    if (level <= logLevel.WARN) logger.warn(extra, message);
    else logger.debug(extra, message);
  };
}

export function createKafka(settings: KafkaSettings): Kafka {
  return new Kafka({
    clientId: settings.clientId,
    brokers: settings.brokers,
    ssl: settings.ssl,
    sasl: settings.sasl as never,
    connectionTimeout: 5000,
    retry: { retries: 5 },
    logLevel: logLevel.WARN,
    logCreator,
  });
}

/** A codec that writes Confluent framing under `<topic>-value` when a registry is configured, single-object otherwise. */
export function codecFor<T>(settings: KafkaSettings, family: SchemaFamily<T>, topic: string): RecordCodec<T> {
  const registry = settings.registryUrl ? new SchemaRegistryClient({ url: settings.registryUrl }) : undefined;
  return new RecordCodec(family, { registry, subject: `${topic}-value` });
}

// The CLI's flag for each TLS setting a failure can name (@sluice/schema's kafkaTlsFailure).
const TLS_FLAG = { kafkaSslCa: '--kafka-ssl-ca', kafkaSslCert: '--kafka-ssl-cert/--kafka-ssl-key', kafkaSsl: '--kafka-ssl' } as const;

/** Kafka failures become one-line service errors naming the brokers, and for a TLS failure the flag to fix. */
export function serviceError(what: string, settings: KafkaSettings, err: unknown): CliError {
  if (err instanceof CliError) return err;
  const tls = kafkaTlsFailure(err);
  const hint = tls ? `; ${tls.reason} (${TLS_FLAG[tls.setting]})` : '';
  return new CliError(EXIT.SERVICE, `${what} failed (brokers ${settings.brokers.join(',')}): ${(err as Error).message.trim()}${hint}`, { cause: err });
}
