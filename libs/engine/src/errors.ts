/** Typed errors of the engine's control plane: every one names what is wrong and where. */

/** Why a model directory could not be loaded (ModelLoadError). */
export type ModelLoadErrorCode =
  | 'MODEL_FILE_MISSING'
  | 'MODEL_FILE_INVALID'
  | 'MODEL_ARCH_UNSUPPORTED'
  | 'MODEL_CONFIG_INVALID'
  | 'MODEL_TENSOR_MISSING'
  | 'MODEL_TENSOR_SHAPE'
  | 'MODEL_TENSOR_DTYPE';

/** Why the tokenizer or chat template failed (TokenizerError). */
export type TokenizerErrorCode = 'TOKENIZER_INVALID' | 'CHAT_TEMPLATE_MISSING' | 'CHAT_TEMPLATE_FAILED' | 'TOKEN_ID_INVALID';

export type EngineErrorCode =
  | 'INVALID_SAMPLING_PARAMS'
  | 'INVALID_ENGINE_OPTIONS'
  | 'INVALID_REQUEST'
  | 'DUPLICATE_REQUEST'
  | 'REQUEST_REJECTED'
  | 'ABORTED'
  | 'INTERNAL'
  | 'INVALID_STRUCTURED_OUTPUT';

/** Every code an EngineError carries: the engine's own, the tokenizer's (TokenizerError), the model loader's (ModelLoadError). */
export type AnyEngineErrorCode = EngineErrorCode | TokenizerErrorCode | ModelLoadErrorCode;

/**
 * Whether the same call, made again unchanged, may succeed (kafkajs's `retriable`); callers read `err.retriable`,
 * never a list of codes. Only an abort is: the request did nothing wrong, and run again it may finish.
 */
const RETRIABLE: Record<AnyEngineErrorCode, boolean> = {
  INVALID_SAMPLING_PARAMS: false, // the request's own parameters
  INVALID_ENGINE_OPTIONS: false, // the engine's configuration
  INVALID_REQUEST: false, // the request's own prompt or id
  DUPLICATE_REQUEST: false, // the caller reused an id still in flight
  REQUEST_REJECTED: false, // a request this engine can never serve (too long, cannot fit the cache, empty)
  ABORTED: true, // aborted by the caller or by shutdown before it finished
  INTERNAL: false, // a broken invariant: a bug
  INVALID_STRUCTURED_OUTPUT: false, // the request's schema, regex, choices or grammar: too large or not compilable
  TOKENIZER_INVALID: false, // tokenizer files that cannot be used
  CHAT_TEMPLATE_MISSING: false, // the model has no chat template
  CHAT_TEMPLATE_FAILED: false, // the template raised on these messages
  TOKEN_ID_INVALID: false, // a token id outside the vocabulary
  MODEL_FILE_MISSING: false,
  MODEL_FILE_INVALID: false,
  MODEL_ARCH_UNSUPPORTED: false,
  MODEL_CONFIG_INVALID: false,
  MODEL_TENSOR_MISSING: false,
  MODEL_TENSOR_SHAPE: false,
  MODEL_TENSOR_DTYPE: false,
};

/** The root of every error the engine throws on purpose: a stable `code` and whether a retry may succeed. */
export class EngineError extends Error {
  override name = 'EngineError';
  readonly retriable: boolean;
  constructor(
    readonly code: AnyEngineErrorCode,
    message: string,
  ) {
    super(message);
    this.retriable = RETRIABLE[code];
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

/** A structured-output constraint (JSON schema, regex, choice list, grammar) that is too large or does not compile. */
export class InvalidStructuredOutputError extends EngineError {
  override name = 'InvalidStructuredOutputError';
  constructor(message: string) {
    super('INVALID_STRUCTURED_OUTPUT', `structured output: ${message}`);
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
