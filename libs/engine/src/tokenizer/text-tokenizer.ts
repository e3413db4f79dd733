import { readFileSync } from 'node:fs';
import { Decoder, Tokenizer } from 'tokenizers';
import { TokenizerError } from './tokenizer-error';
import { tokenBytes, tokenBytesRule, type TokenBytesRule } from './token-bytes';

interface AddedTokenJson {
  id: number;
  content: string;
  special: boolean;
}

/**
 * A Hugging Face tokenizer.json, through the `tokenizers` binding. Encoding is the binding's (async);
 * decoding goes through the tokenizer's own decoder synchronously so the per-step detokenizer never awaits.
 */
export class TextTokenizer {
  readonly specialIds: ReadonlySet<number>;
  readonly vocabSize: number;
  private readonly decoder: Decoder | null;
  // Added tokens are spelt as their own text, not in the vocabulary's byte alphabet.
  private readonly addedIds: ReadonlySet<number>;

  private constructor(private readonly tok: Tokenizer, added: AddedTokenJson[], private readonly bytesRule: TokenBytesRule) {
    this.specialIds = new Set(added.filter((t) => t.special).map((t) => t.id));
    this.addedIds = new Set(added.map((t) => t.id));
    this.vocabSize = tok.getVocabSize(true);
    this.decoder = tok.getDecoder();
  }

  static fromFile(file: string): TextTokenizer {
    let text: string;
    let tok: Tokenizer;
    try {
      text = readFileSync(file, 'utf8');
      tok = Tokenizer.fromString(text);
    } catch (e) {
      throw new TokenizerError('TOKENIZER_INVALID', `${file}: cannot load tokenizer (${(e as Error).message})`);
    }
    const json = JSON.parse(text) as { added_tokens?: AddedTokenJson[]; decoder?: Parameters<typeof tokenBytesRule>[0] };
    return new TextTokenizer(tok, json.added_tokens ?? [], tokenBytesRule(json.decoder));
  }

  async encode(text: string, addSpecialTokens: boolean): Promise<number[]> {
    try {
      return (await this.tok.encode(text, null, { addSpecialTokens })).getIds();
    } catch (e) {
      throw new TokenizerError('TOKENIZER_INVALID', `tokenizer failed to encode a ${text.length}-character text (${(e as Error).message})`);
    }
  }

  tokenId(token: string): number | undefined {
    return this.tok.tokenToId(token) ?? undefined;
  }

  /** Token strings of ids; a special token is dropped when skipSpecialTokens. */
  idsToTokens(ids: readonly number[], skipSpecialTokens: boolean): string[] {
    const out: string[] = [];
    for (const id of ids) {
      if (skipSpecialTokens && this.specialIds.has(id)) continue;
      const t = this.tok.idToToken(id);
      // Ids past the tokenizer's vocabulary (padded lm_head rows) have no text, as in Hugging Face's decode.
      if (t !== null) out.push(t);
    }
    return out;
  }

  /** The bytes token `id` stands for, a part of a UTF-8 character included; empty for an id with no token. */
  tokenBytes(id: number): Uint8Array {
    const t = this.tok.idToToken(id);
    return t === null ? new Uint8Array(0) : tokenBytes(t, this.bytesRule, this.addedIds.has(id));
  }

  /** Text of token strings; an incomplete trailing UTF-8 sequence shows as U+FFFD. */
  tokensToText(tokens: readonly string[]): string {
    if (tokens.length === 0) return '';
    return this.decoder ? this.decoder.decode([...tokens]) : tokens.join('');
  }

  decode(ids: readonly number[], skipSpecialTokens: boolean): string {
    return this.tokensToText(this.idsToTokens(ids, skipSpecialTokens));
  }
}
