import { redactUrls } from '@sluice/schema';
import pino, { type Logger } from 'pino';

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

/**
 * JSON lines on stdout with secrets redacted: by path, and the userinfo of every URL anywhere in the line (messages,
 * errors, kafkajs and SDK fields). `destination` lets tests capture the output.
 */
export function createLogger(level: string, workerId: string, destination?: pino.DestinationStream): Logger {
  return pino({ name: 'sluice-consumer', level, base: { worker_id: workerId }, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, hooks: { streamWrite: redactUrls } }, destination);
}
