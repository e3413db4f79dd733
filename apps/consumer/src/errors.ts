/** Typed errors of the consumer, one class per domain; `code` is stable for callers and logs. */

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** `setting` names the flag and its variable, e.g. "--max-in-flight (SLUICE_MAX_IN_FLIGHT)". */
  constructor(readonly setting: string, message: string) {
    super(`${setting}: ${message}`);
  }
}

export type EngineErrorCode = 'ABORTED' | 'REJECTED' | 'ENGINE_FAILED' | 'SHUT_DOWN';

export class EngineError extends Error {
  override readonly name = 'EngineError';
  constructor(readonly code: EngineErrorCode, message: string) {
    super(message);
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
