import { Kafka, logLevel, type KafkaConfig, type LogEntry, type SASLOptions } from 'kafkajs';
import type { Logger } from 'pino';
import type { ConsumerConfig } from '../config';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * Errors kafkajs logs, and retries, while a group or partition settles: the first join (no coordinator yet), a
 * rebalance, a leader election. Part of a healthy start, so logged at info rather than error.
 */
const SETTLING = /coordinator is not available|coordinator is loading|not the correct coordinator|group is rebalancing|leader(ship)? (is )?not available|There is no leader/i;

function sasl(c: NonNullable<ConsumerConfig['sasl']>): SASLOptions {
  return { mechanism: c.mechanism, username: c.username, password: c.password } as SASLOptions;
}

/** The kafkajs client: TLS and SASL from the config, its log lines through pino (kafkajs INFO is chatty: logged at debug; SETTLING errors at info). */
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
      if (entry.level === logLevel.ERROR && SETTLING.test(`${message} ${String(extra.error ?? '')}`)) return kafkaLog.info({ namespace: entry.namespace, ...extra }, message);
      const level = LEVELS[entry.level] ?? 'debug';
      kafkaLog[level === 'info' ? 'debug' : level]({ namespace: entry.namespace, ...extra }, message);
    },
  };
  return new Kafka(options);
}
