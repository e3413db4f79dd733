import { EngineError } from '../errors';

/** Why a model directory could not be loaded; `file` and `tensor` say where, when known. */
export type ModelLoadErrorCode =
  | 'MODEL_FILE_MISSING'
  | 'MODEL_FILE_INVALID'
  | 'MODEL_ARCH_UNSUPPORTED'
  | 'MODEL_CONFIG_INVALID'
  | 'MODEL_TENSOR_MISSING'
  | 'MODEL_TENSOR_SHAPE'
  | 'MODEL_TENSOR_DTYPE';

/** An EngineError (see errors.ts for which codes are retriable: none). */
export class ModelLoadError extends EngineError {
  override readonly name = 'ModelLoadError';
  constructor(
    override readonly code: ModelLoadErrorCode,
    message: string,
    readonly file?: string,
    readonly tensor?: string,
  ) {
    super(code, message);
  }
}
