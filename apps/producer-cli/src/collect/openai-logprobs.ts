// A completion output's token logprobs in OpenAI's two shapes: chat (`content` entries) and legacy completions.
import type { CompletionOutput } from '@sluice/schema';
import { tokenText, type TokenBytes } from '../output/token-text';

/** Chat completions: `{ content: [{ token, logprob, bytes, top_logprobs: [{ token, logprob, bytes }] }] }`. */
export function chatLogprobs(o: CompletionOutput, bytesOf: TokenBytes): Record<string, unknown> | null {
  if (!o.logprobs) return null;
  const entry = (id: number, logprob: number) => ({ token: tokenText(bytesOf(id)), logprob, bytes: [...bytesOf(id)] });
  return { content: o.logprobs.map((l) => ({ ...entry(l.token, l.logprob), top_logprobs: l.top.map((t) => entry(t.token, t.logprob)) })) };
}

/**
 * Legacy completions: `{ tokens, token_logprobs, top_logprobs: [{ token: logprob }], text_offset }`; a token's offset
 * is where it starts in the output text, counting only whole characters (a split character belongs to its last token).
 */
export function textLogprobs(o: CompletionOutput, bytesOf: TokenBytes): Record<string, unknown> | null {
  if (!o.logprobs) return null;
  const stream = new TextDecoder('utf-8');
  let at = 0;
  const offsets = o.logprobs.map((l) => {
    const start = at;
    at += stream.decode(bytesOf(l.token), { stream: true }).length;
    return start;
  });
  return {
    tokens: o.logprobs.map((l) => tokenText(bytesOf(l.token))),
    token_logprobs: o.logprobs.map((l) => l.logprob),
    top_logprobs: o.logprobs.map((l) => Object.fromEntries(l.top.map((t) => [tokenText(bytesOf(t.token)), t.logprob]))),
    text_offset: offsets,
  };
}
