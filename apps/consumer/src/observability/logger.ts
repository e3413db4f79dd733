import { redactUrls } from '@sluice/schema';
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

// Paths that may carry secrets anywhere in a logged object (config, kafkajs errors, SDK errors).
export const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'sasl',
  '*.sasl',
  'ssl.key',
  '*.ssl.key',
  'credentials',
  '*.credentials',
  '*.secretAccessKey',
  '*.*.secretAccessKey',
  '*.sessionToken',
  'authorization',
  '*.authorization',
  '*.headers.authorization',
];

export type LogFormat = 'json' | 'pretty';

/** Colourised one-line records for a person at a terminal; the JSON is redacted before it gets here. */
function prettyStream(): pino.DestinationStream {
  return pretty({ colorize: true, destination: 1, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name,worker_id' });
}

/**
 * Lines on stdout with secrets redacted: by path, and the userinfo of every URL anywhere in the line (messages,
 * errors, kafkajs and SDK fields). JSON, or pretty lines (`format`); `destination` lets tests capture the output.
 */
export function createLogger(level: string, workerId: string, destination?: pino.DestinationStream, format: LogFormat = 'json'): Logger {
  const out = destination ?? (format === 'pretty' ? prettyStream() : undefined);
  return pino({ name: 'sluice-consumer', level, base: { worker_id: workerId }, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, hooks: { streamWrite: redactUrls } }, out);
}
