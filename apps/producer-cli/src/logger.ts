// pino to stderr, so stdout stays for results; SLUICE_LOG_LEVEL picks the level (default error: the CLI reports through its own one-line messages).
import { redactUrls } from '@sluice/schema';
import pino from 'pino';

// streamWrite: the userinfo of every URL in a line (a registry or S3 endpoint with credentials) is replaced by ***.
export const logger = pino({ name: 'sluice', level: process.env.SLUICE_LOG_LEVEL ?? 'error', hooks: { streamWrite: redactUrls } }, pino.destination(2));
