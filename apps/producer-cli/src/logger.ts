// pino to stderr, so stdout stays for results; SLUICE_LOG_LEVEL picks the level (default error: the CLI reports through its own one-line messages).
import pino from 'pino';

export const logger = pino({ name: 'sluice', level: process.env.SLUICE_LOG_LEVEL ?? 'error' }, pino.destination(2));
