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

/** A CliError's stable code: the name of its exit code. */
export type CliErrorCode = keyof typeof EXIT;

const CODE_OF = new Map(Object.entries(EXIT).map(([name, exit]) => [exit, name as CliErrorCode]));

/**
 * Whether the same command, run again unchanged, may succeed (kafkajs's `retriable`): a service that failed may be
 * back, an incomplete batch may be complete, an interrupted run was not at fault; bad input, usage or a model are not.
 */
const RETRIABLE: Record<CliErrorCode, boolean> = { OK: false, INPUT: false, USAGE: false, SERVICE: true, INCOMPLETE: true, ENGINE: false, INTERRUPTED: true };

/** The root of the CLI's errors: the exit code the process ends with, its stable `code` name and whether a retry may succeed. */
export class CliError extends Error {
  override readonly name = 'CliError';
  readonly code: CliErrorCode;
  readonly retriable: boolean;

  constructor(
    readonly exitCode: ExitCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = CODE_OF.get(exitCode) as CliErrorCode;
    this.retriable = RETRIABLE[this.code];
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
