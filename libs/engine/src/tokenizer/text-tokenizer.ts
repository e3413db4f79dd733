import { readFileSync } from 'node:fs';
import { Decoder, Tokenizer } from 'tokenizers';
import { TokenizerError } from './tokenizer-error';

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

  private constructor(private readonly tok: Tokenizer, added: AddedTokenJson[]) {
    this.specialIds = new Set(added.filter((t) => t.special).map((t) => t.id));
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
    const added = (JSON.parse(text).added_tokens ?? []) as AddedTokenJson[];
    return new TextTokenizer(tok, added);
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

  /** Text of token strings; an incomplete trailing UTF-8 sequence shows as U+FFFD. */
  tokensToText(tokens: readonly string[]): string {
    if (tokens.length === 0) return '';
    return this.decoder ? this.decoder.decode([...tokens]) : tokens.join('');
  }

  decode(ids: readonly number[], skipSpecialTokens: boolean): string {
    return this.tokensToText(this.idsToTokens(ids, skipSpecialTokens));
  }
}
