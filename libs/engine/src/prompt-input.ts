import { EngineError } from './errors';
import type { ChatMessage } from './tokenizer/chat-template';

/** A prompt as text, as token ids, or as a chat conversation rendered by the model's template. */
export type PromptInput = string | { prompt: string } | { promptTokenIds: readonly number[] } | { messages: ChatMessage[] };

export type NormalizedPrompt = { kind: 'text'; text: string } | { kind: 'tokens'; ids: number[] } | { kind: 'chat'; messages: ChatMessage[] };

/** Checks a PromptInput's shape; the token range check happens against the model's vocabulary later. */
export function normalizePrompt(requestId: string, input: PromptInput): NormalizedPrompt {
  const bad = (what: string): never => {
    throw new EngineError('INVALID_REQUEST', `request ${requestId}: ${what}`);
  };
  if (typeof input === 'string') return { kind: 'text', text: input };
  if (typeof input !== 'object' || input === null) return bad(`input must be a string or an object, got ${JSON.stringify(input)}`);
  if ('prompt' in input) {
    if (typeof input.prompt !== 'string') bad(`"prompt" must be a string`);
    return { kind: 'text', text: input.prompt };
  }
  if ('promptTokenIds' in input) {
    const ids = input.promptTokenIds;
    if (!Array.isArray(ids) || ids.some((t) => !Number.isSafeInteger(t) || t < 0)) bad('"promptTokenIds" must be a list of token ids (integers >= 0)');
    return { kind: 'tokens', ids: [...ids] };
  }
  if ('messages' in input) {
    if (!Array.isArray(input.messages)) bad('"messages" must be a list of {role, content}');
    return { kind: 'chat', messages: input.messages };
  }
  return bad('input needs one of "prompt", "promptTokenIds" or "messages"');
}
