// pino to stderr, so stdout stays for results; SLUICE_LOG_LEVEL picks the level (default error: the CLI reports through
// its own one-line messages). Colourised lines on a terminal, JSON lines otherwise or with --log-format json.
import { redactUrls } from '@sluice/schema';
import pino from 'pino';
import pretty from 'pino-pretty';

export type LogFormat = 'json' | 'pretty';

let format: LogFormat = (process.env.SLUICE_LOG_FORMAT as LogFormat | undefined) ?? (process.stderr.isTTY ? 'pretty' : 'json');
const prettyLines = pretty({ colorize: true, destination: process.stderr, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name' });

/** Where the JSON line goes: the prettifier or stderr as it is, by the current format (flags are parsed after import). */
const sink = { write: (line: string) => (format === 'pretty' ? prettyLines.write(line) : process.stderr.write(line)) };

// streamWrite: the userinfo of every URL in a line (a registry or S3 endpoint with credentials) is replaced by ***.
export const logger = pino({ name: 'sluice', level: process.env.SLUICE_LOG_LEVEL ?? 'error', hooks: { streamWrite: redactUrls } }, sink);

export function setLogFormat(f: LogFormat): void {
  format = f;
}
