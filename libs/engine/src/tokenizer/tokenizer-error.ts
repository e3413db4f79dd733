export type TokenizerErrorCode = 'TOKENIZER_INVALID' | 'CHAT_TEMPLATE_MISSING' | 'CHAT_TEMPLATE_FAILED' | 'TOKEN_ID_INVALID';

export class TokenizerError extends Error {
  override readonly name = 'TokenizerError';
  constructor(readonly code: TokenizerErrorCode, message: string) {
    super(message);
  }
}
