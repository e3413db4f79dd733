// A Completion as one line of the OpenAI Batch API output file (custom_id, response.body or error).
import type { Completion } from '@sluice/schema';
import { METADATA_KIND } from '../produce/row-to-job';
import type { TokenBytes } from '../output/token-text';
import { chatLogprobs, textLogprobs } from './openai-logprobs';

/** `tokenBytes` turns logprobs' token ids into OpenAI's token strings and bytes; without it logprobs stay null (ids only). */
export function openAiOutputLine(c: Completion, tokenBytes?: TokenBytes): Record<string, unknown> {
  const base = { id: `batch_req_${c.job_id}`, custom_id: c.job_id };
  if (c.error) return { ...base, response: null, error: { code: c.error.code, message: c.error.message } };
  const chat = c.metadata[METADATA_KIND] !== 'text';
  const created = Math.floor(c.completed_at / 1000);
  const usage = {
    prompt_tokens: c.usage.prompt_tokens, completion_tokens: c.usage.completion_tokens, total_tokens: c.usage.prompt_tokens + c.usage.completion_tokens,
    // OpenAI's place for prefix-cache hits; a record written before completion v2 does not know it.
    ...(c.usage.cached_tokens === null || c.usage.cached_tokens === undefined ? {} : { prompt_tokens_details: { cached_tokens: c.usage.cached_tokens } }),
  };
  // Records keep token ids; OpenAI shows token text, so logprobs need the model's tokenizer (generate's, collect --tokenizer).
  const logprobs = (o: Completion['outputs'][number]) => (tokenBytes ? (chat ? chatLogprobs : textLogprobs)(o, tokenBytes) : null);
  const choices = c.outputs.map((o) =>
    chat
      ? { index: o.index, message: { role: 'assistant', content: o.text }, logprobs: logprobs(o), finish_reason: o.finish_reason ?? null }
      : { index: o.index, text: o.text, logprobs: logprobs(o), finish_reason: o.finish_reason ?? null },
  );
  const body = { id: `${chat ? 'chatcmpl' : 'cmpl'}-${c.job_id}`, object: chat ? 'chat.completion' : 'text_completion', created, model: c.model, choices, usage };
  return { ...base, response: { status_code: 200, request_id: c.job_id, body }, error: null };
}
