import { EngineError } from '../errors';

export type TokenizerErrorCode = 'TOKENIZER_INVALID' | 'CHAT_TEMPLATE_MISSING' | 'CHAT_TEMPLATE_FAILED' | 'TOKEN_ID_INVALID';

/** The tokenizer or chat template failed; an EngineError (see errors.ts for which codes are retriable: none). */
export class TokenizerError extends EngineError {
  override readonly name = 'TokenizerError';
  constructor(override readonly code: TokenizerErrorCode, message: string) {
    super(code, message);
  }
}
