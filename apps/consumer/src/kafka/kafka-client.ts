import { Kafka, logLevel, type KafkaConfig, type LogEntry, type SASLOptions } from 'kafkajs';
import type { Logger } from 'pino';
import type { ConsumerConfig } from '../config';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

function sasl(c: NonNullable<ConsumerConfig['sasl']>): SASLOptions {
  return { mechanism: c.mechanism, username: c.username, password: c.password } as SASLOptions;
}

/** The kafkajs client: TLS and SASL from the config, its log lines through pino (kafkajs INFO is chatty: logged at debug). */
export function createKafka(config: ConsumerConfig, log: Logger): Kafka {
  const kafkaLog = log.child({ component: 'kafkajs' });
  const options: KafkaConfig = {
    clientId: config.clientId,
    brokers: config.brokers,
    ssl: config.ssl ? { ca: config.ssl.ca, cert: config.ssl.cert, key: config.ssl.key, rejectUnauthorized: config.ssl.rejectUnauthorized } : undefined,
    sasl: config.sasl ? sasl(config.sasl) : undefined,
    logLevel: logLevel.INFO,
    logCreator: () => (entry: LogEntry) => {
      const { message, ...extra } = entry.log;
      const level = LEVELS[entry.level] ?? 'debug';
      kafkaLog[level === 'info' ? 'debug' : level]({ namespace: entry.namespace, ...extra }, message);
    },
  };
  return new Kafka(options);
}
