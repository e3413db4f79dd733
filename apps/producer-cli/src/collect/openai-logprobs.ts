// A completion output's token logprobs in OpenAI's two shapes: chat (`content` entries) and legacy completions.
import type { CompletionOutput } from '@sluice/schema';
import type { TokenText } from '../output/token-text';

const bytesOf = (text: string) => [...Buffer.from(text, 'utf8')];

/** Chat completions: `{ content: [{ token, logprob, bytes, top_logprobs: [{ token, logprob, bytes }] }] }`. */
export function chatLogprobs(o: CompletionOutput, text: TokenText): Record<string, unknown> | null {
  if (!o.logprobs) return null;
  const entry = (id: number, logprob: number) => ({ token: text(id), logprob, bytes: bytesOf(text(id)) });
  return { content: o.logprobs.map((l) => ({ ...entry(l.token, l.logprob), top_logprobs: l.top.map((t) => entry(t.token, t.logprob)) })) };
}

/** Legacy completions: `{ tokens, token_logprobs, top_logprobs: [{ token: logprob }], text_offset }`. */
export function textLogprobs(o: CompletionOutput, text: TokenText): Record<string, unknown> | null {
  if (!o.logprobs) return null;
  const tokens = o.logprobs.map((l) => text(l.token));
  let at = 0;
  const offsets = tokens.map((t) => (at += t.length) - t.length);
  return {
    tokens,
    token_logprobs: o.logprobs.map((l) => l.logprob),
    top_logprobs: o.logprobs.map((l) => Object.fromEntries(l.top.map((t) => [text(t.token), t.logprob]))),
    text_offset: offsets,
  };
}
