// Token ids as the text OpenAI's logprobs show: completions keep ids only; a model's tokenizer turns them into text.
import { join } from 'node:path';

/** The text of one token id (the tokenizer's decoder applied to that token alone). */
export type TokenText = (id: number) => string;

/** Loads `<model dir>/tokenizer.json` (the engine's own tokenizer); each id's text is computed once. */
export async function tokenTextFromModel(modelDir: string): Promise<TokenText> {
  // Loaded only here: the Kafka commands need no tokenizer unless asked.
  const { TextTokenizer } = await import('@sluice/engine');
  const tokenizer = TextTokenizer.fromFile(join(modelDir, 'tokenizer.json'));
  const cache = new Map<number, string>();
  return (id) => {
    let text = cache.get(id);
    if (text === undefined) cache.set(id, (text = tokenizer.decode([id], false)));
    return text;
  };
}
