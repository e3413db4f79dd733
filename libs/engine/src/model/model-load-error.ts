import { EngineError, type ModelLoadErrorCode } from '../errors';

export type { ModelLoadErrorCode };

/** Why a model directory could not be loaded; `file` and `tensor` say where, when known. An EngineError (see errors.ts for which codes are retriable: none). */
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
