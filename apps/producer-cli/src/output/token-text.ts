// Token ids as OpenAI's logprobs show them: completions keep ids only; a model's tokenizer gives each id's bytes.
import { join } from 'node:path';

/** Token id -> the bytes it stands for (a part of a UTF-8 character included). */
export type TokenBytes = (id: number) => Uint8Array;

/** Loads `<model dir>/tokenizer.json` (the engine's own tokenizer); each id's bytes are computed once. */
export async function tokenBytesFromModel(modelDir: string): Promise<TokenBytes> {
  // Loaded only here: the Kafka commands need no tokenizer unless asked.
  const { TextTokenizer } = await import('@sluice/engine');
  const tokenizer = TextTokenizer.fromFile(join(modelDir, 'tokenizer.json'));
  const cache = new Map<number, Uint8Array>();
  return (id) => {
    let bytes = cache.get(id);
    if (bytes === undefined) cache.set(id, (bytes = tokenizer.tokenBytes(id)));
    return bytes;
  };
}

const strict = new TextDecoder('utf-8', { fatal: true });

/**
 * A token's text for OpenAI's `token` field: its bytes as UTF-8, or, for a token holding part of a character, the
 * bytes escaped as OpenAI writes them (`bytes:\xe2\x80`); the `bytes` field always has the bytes themselves.
 */
export function tokenText(bytes: Uint8Array): string {
  try {
    return strict.decode(bytes);
  } catch {
    return `bytes:${[...bytes].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')}`;
  }
}
