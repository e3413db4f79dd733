import { EngineError, type TokenizerErrorCode } from '../errors';

export type { TokenizerErrorCode };

/** The tokenizer or chat template failed; an EngineError (see errors.ts for which codes are retriable: none). */
export class TokenizerError extends EngineError {
  override readonly name = 'TokenizerError';
  constructor(override readonly code: TokenizerErrorCode, message: string) {
    super(code, message);
  }
}
