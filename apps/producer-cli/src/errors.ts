// Typed CLI failures: each carries the exit code the process ends with and a one-line reason for stderr.

/** Exit codes; documented in the README. */
export const EXIT = {
  OK: 0,
  /** Bad input data: an unreadable file or a bad row (without --skip-bad). */
  INPUT: 1,
  /** Bad usage or configuration: an unknown flag, an invalid value, a missing setting. */
  USAGE: 2,
  /** Kafka, S3 or an export could not be reached or failed. */
  SERVICE: 3,
  /** collect: the batch is not complete (use --partial to write what there is). */
  INCOMPLETE: 4,
  /** generate: the model could not be loaded, or the engine failed. */
  ENGINE: 5,
  /** Interrupted by SIGINT or SIGTERM. */
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class CliError extends Error {
  override readonly name = 'CliError';

  constructor(
    readonly exitCode: ExitCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const usageError = (message: string) => new CliError(EXIT.USAGE, message);

/** A row that cannot become a job; `where` is `file:line` (text formats) or `file:row N` (Parquet). */
export class BadRowError extends CliError {
  constructor(
    readonly where: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(EXIT.INPUT, `${where}: ${reason}`, options);
  }
}
