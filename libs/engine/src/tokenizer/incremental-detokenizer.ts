import { TextTokenizer } from './text-tokenizer';

// How many prompt tokens of context to decode with the first output token, so word-boundary spaces come out right.
const PROMPT_CONTEXT_TOKENS = 5;
const REPLACEMENT_CHAR = '\uFFFD';

/**
 * Turns a growing token sequence into text deltas. Text is held back while the decoded tail ends in an
 * incomplete UTF-8 sequence (shown by the decoder as U+FFFD), so a character split across tokens is
 * emitted once, whole.
 */
export class IncrementalDetokenizer {
  private readonly tokens: string[];
  private prefixOffset: number;
  private readOffset: number;

  constructor(
    private readonly tokenizer: TextTokenizer,
    promptIds: readonly number[],
    private readonly skipSpecialTokens: boolean,
  ) {
    this.tokens = tokenizer.idsToTokens(promptIds.slice(-PROMPT_CONTEXT_TOKENS), skipSpecialTokens);
    this.prefixOffset = 0;
    this.readOffset = this.tokens.length;
  }

  /** Adds generated tokens; returns the text that became final. */
  push(ids: readonly number[]): string {
    this.tokens.push(...this.tokenizer.idsToTokens(ids, this.skipSpecialTokens));
    const prefixText = this.tokenizer.tokensToText(this.tokens.slice(this.prefixOffset, this.readOffset));
    const fullText = this.tokenizer.tokensToText(this.tokens.slice(this.prefixOffset));
    if (fullText.length <= prefixText.length || fullText.endsWith(REPLACEMENT_CHAR)) return '';
    this.prefixOffset = this.readOffset;
    this.readOffset = this.tokens.length;
    return fullText.slice(prefixText.length);
  }

  /** At the end of a sequence: whatever is still held back, an incomplete character included. */
  flush(): string {
    if (this.readOffset === this.tokens.length) return '';
    const prefixText = this.tokenizer.tokensToText(this.tokens.slice(this.prefixOffset, this.readOffset));
    const fullText = this.tokenizer.tokensToText(this.tokens.slice(this.prefixOffset));
    this.prefixOffset = this.readOffset;
    this.readOffset = this.tokens.length;
    return fullText.slice(prefixText.length);
  }
}
