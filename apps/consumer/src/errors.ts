/** Typed errors of the consumer, one class per domain under one root; `code` is stable for callers and logs. */
import type { CommitNoteErrorCode } from './export/commit-note';
import type { DeadLetterCode } from './jobs/classify';
import type { DecodeThreadErrorCode } from './jobs/decode-thread';
import { SchemaError } from './jobs/schema';

/**
 * REJECTED: a well-formed job this engine cannot serve (answered with an error Completion); INVALID_JOB: input
 * no engine could run (dead-lettered, see InvalidJobError); ENGINE_FAILED: the engine itself broke (fatal).
 */
export type EngineErrorCode = 'ABORTED' | 'REJECTED' | 'INVALID_JOB' | 'ENGINE_FAILED' | 'SHUT_DOWN';
export type ExportErrorCode = 'UPLOAD_FAILED' | 'MANIFEST_CONFLICT' | 'BAD_TARGET';
export type OffsetErrorCode = 'OUT_OF_ORDER' | 'UNKNOWN_OFFSET' | 'ALREADY_DONE';
export type ConsumerErrorCode = 'INVALID_CONFIG' | EngineErrorCode | ExportErrorCode | OffsetErrorCode | DecodeThreadErrorCode | CommitNoteErrorCode;

/**
 * Whether the same work, done again unchanged, may succeed (kafkajs's `retriable`): a job whose message stays
 * uncommitted and is fetched again. Retries that gave up (UPLOAD_FAILED, MANIFEST_CONFLICT) are not.
 */
const RETRIABLE: Record<ConsumerErrorCode, boolean> = {
  INVALID_CONFIG: false,
  ABORTED: true, // the job was dropped (revoked, drained), not failed
  SHUT_DOWN: true, // the engine stopped before it took the job
  REJECTED: false,
  INVALID_JOB: false,
  ENGINE_FAILED: false,
  UPLOAD_FAILED: false,
  MANIFEST_CONFLICT: false,
  BAD_TARGET: false,
  OUT_OF_ORDER: false, // offset bookkeeping errors are bugs
  UNKNOWN_OFFSET: false,
  ALREADY_DONE: false,
  DECODE_UNAVAILABLE: true, // no decode thread right now: not the record's fault
  DECODE_TIMEOUT: false,
  DECODE_CRASHED: false,
  BAD_NOTE: false,
  NOTE_TOO_LARGE: false,
  PART_MISSING: false,
};

/** The root of the consumer's own errors: a stable `code` and whether a retry may succeed. */
export class ConsumerError extends Error {
  override name = 'ConsumerError';
  readonly retriable: boolean;
  constructor(readonly code: ConsumerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.retriable = RETRIABLE[code];
  }
}

/**
 * A retry may succeed, as the error's own library says (ConsumerError, SchemaError). An error from anywhere else is
 * never retried: a decoder's bug on one record must dead-letter it, not fetch it forever.
 */
export function isRetriable(err: unknown): boolean {
  return (err instanceof ConsumerError || err instanceof SchemaError) && err.retriable;
}

export class ConfigError extends ConsumerError {
  override readonly name = 'ConfigError';
  /** `setting` names the flag and its variable, e.g. "--max-in-flight (SLUICE_MAX_IN_FLIGHT)". */
  constructor(readonly setting: string, message: string) {
    super('INVALID_CONFIG', `${setting}: ${message}`);
  }
}

export class EngineError extends ConsumerError {
  override name = 'EngineError';
  constructor(override readonly code: EngineErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** The engine found the job itself invalid (as classify would have, had it known the engine's limits): dead-lettered. */
export class InvalidJobError extends EngineError {
  override name = 'InvalidJobError';
  constructor(readonly deadLetterCode: DeadLetterCode, message: string, options?: { cause?: unknown }) {
    super('INVALID_JOB', message, options);
  }
}

export class ExportError extends ConsumerError {
  override readonly name = 'ExportError';
  constructor(override readonly code: ExportErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export class OffsetError extends ConsumerError {
  override readonly name = 'OffsetError';
  constructor(override readonly code: OffsetErrorCode, message: string) {
    super(code, message);
  }
}
