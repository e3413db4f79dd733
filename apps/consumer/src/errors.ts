/** Typed errors of the consumer, one class per domain; `code` is stable for callers and logs. */
import type { DeadLetterCode } from './jobs/classify';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** `setting` names the flag and its variable, e.g. "--max-in-flight (SLUICE_MAX_IN_FLIGHT)". */
  constructor(readonly setting: string, message: string) {
    super(`${setting}: ${message}`);
  }
}

/**
 * REJECTED: a well-formed job this engine cannot serve (answered with an error Completion); INVALID_JOB: input
 * no engine could run (dead-lettered, see InvalidJobError); ENGINE_FAILED: the engine itself broke (fatal).
 */
export type EngineErrorCode = 'ABORTED' | 'REJECTED' | 'INVALID_JOB' | 'ENGINE_FAILED' | 'SHUT_DOWN';

export class EngineError extends Error {
  override name = 'EngineError';
  constructor(readonly code: EngineErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The engine found the job itself invalid (as classify would have, had it known the engine's limits): dead-lettered. */
export class InvalidJobError extends EngineError {
  override name = 'InvalidJobError';
  constructor(readonly deadLetterCode: DeadLetterCode, message: string, options?: { cause?: unknown }) {
    super('INVALID_JOB', message, options);
  }
}

export type ExportErrorCode = 'UPLOAD_FAILED' | 'MANIFEST_CONFLICT' | 'BAD_TARGET';

export class ExportError extends Error {
  override readonly name = 'ExportError';
  constructor(readonly code: ExportErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export type OffsetErrorCode = 'OUT_OF_ORDER' | 'UNKNOWN_OFFSET' | 'ALREADY_DONE';

export class OffsetError extends Error {
  override readonly name = 'OffsetError';
  constructor(readonly code: OffsetErrorCode, message: string) {
    super(message);
  }
}
