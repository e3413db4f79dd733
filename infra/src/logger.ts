import pino, { type Logger } from 'pino';

/** Default logger of the API: JSON lines on stderr (stdout stays free for a caller's own output). */
export function defaultLogger(env: NodeJS.ProcessEnv = process.env): Logger {
  return pino({ name: 'sluice-local', level: env.SLUICE_LOG_LEVEL ?? 'info' }, pino.destination(2));
}

/** CLI logger: still pino, but each record printed as one readable line on stderr. */
export function cliLogger(env: NodeJS.ProcessEnv = process.env): Logger {
  return pino(
    { level: env.SLUICE_LOG_LEVEL ?? 'info' },
    { write: (line: string) => void process.stderr.write(`sluice-local: ${(JSON.parse(line) as { msg?: string }).msg ?? line}\n`) },
  );
}
