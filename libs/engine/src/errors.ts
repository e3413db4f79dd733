/** Typed errors of the engine's control plane: every one names what is wrong and where. */
export type EngineErrorCode =
  | 'INVALID_SAMPLING_PARAMS'
  | 'INVALID_ENGINE_OPTIONS'
  | 'INVALID_REQUEST'
  | 'DUPLICATE_REQUEST'
  | 'REQUEST_REJECTED'
  | 'ABORTED'
  | 'INTERNAL';

export class EngineError extends Error {
  override name = 'EngineError';
  constructor(
    readonly code: EngineErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A sampling parameter out of range or of the wrong type; `param` is its camelCase name. */
export class InvalidSamplingParamsError extends EngineError {
  override name = 'InvalidSamplingParamsError';
  constructor(
    readonly param: string,
    message: string,
  ) {
    super('INVALID_SAMPLING_PARAMS', `sampling parameter ${param}: ${message}`);
  }
}

/** An engine option (block size, budgets, cache size) that cannot work. */
export class InvalidEngineOptionsError extends EngineError {
  override name = 'InvalidEngineOptionsError';
  constructor(
    readonly option: string,
    message: string,
  ) {
    super('INVALID_ENGINE_OPTIONS', `engine option ${option}: ${message}`);
  }
}

export type RejectionReason = 'EXCEEDS_MAX_MODEL_LEN' | 'CANNOT_FIT_IN_CACHE' | 'EMPTY_PROMPT';

/** A request the engine can never serve; the engine drops it and goes on with the others. */
export class RequestRejectedError extends EngineError {
  override name = 'RequestRejectedError';
  constructor(
    readonly requestId: string,
    readonly reason: RejectionReason,
    message: string,
  ) {
    super('REQUEST_REJECTED', `request ${requestId} rejected: ${message}`);
  }
}

/** A request that was aborted (by the caller or by shutdown) before it finished. */
export class RequestAbortedError extends EngineError {
  override name = 'RequestAbortedError';
  constructor(readonly requestId: string) {
    super('ABORTED', `request ${requestId} was aborted`);
  }
}

/** A broken invariant of the block manager or scheduler: a bug, never a user error. */
export class EngineInvariantError extends EngineError {
  override name = 'EngineInvariantError';
  constructor(message: string) {
    super('INTERNAL', `internal: ${message}`);
  }
}
