// One OpenAI Batch API input line ({custom_id, method, url, body}) as the fields of a job.
import type { ChatMessage, SamplingParams } from '@sluice/schema';
import { guidedJsonText, responseFormatSampling } from './response-format';
import { RowError } from './row-error';
import { samplingField } from './sampling-fields';

export const OPENAI_CHAT_URL = '/v1/chat/completions';
export const OPENAI_COMPLETIONS_URL = '/v1/completions';

export interface OpenAiJobFields {
  jobId: string;
  url: string;
  model?: string;
  prompt?: unknown;
  messages?: unknown;
  sampling: SamplingParams;
}

// Body keys that change what is asked for and that the engine cannot honour: refused, never silently dropped.
const UNSUPPORTED = ['stream', 'tools', 'tool_choice', 'functions', 'function_call', 'logit_bias', 'suffix', 'echo'];
// Body keys with no effect on generation.
const IGNORED = ['user', 'metadata', 'store', 'service_tier', 'parallel_tool_calls'];

function text(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') throw new RowError(`field '${field}' must be a non-empty string`);
  return value;
}

export function openAiJobFields(row: Record<string, unknown>): OpenAiJobFields {
  const jobId = text(row.custom_id, 'custom_id');
  const url = text(row.url, 'url');
  if (row.method !== undefined && row.method !== 'POST') throw new RowError(`field 'method' must be POST, got ${JSON.stringify(row.method)}`);
  if (url !== OPENAI_CHAT_URL && url !== OPENAI_COMPLETIONS_URL) throw new RowError(`field 'url' must be ${OPENAI_CHAT_URL} or ${OPENAI_COMPLETIONS_URL}, got "${url}"`);
  const body = row.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new RowError("field 'body' must be an object");
  const { model, messages, prompt, max_completion_tokens, logprobs, top_logprobs, stop, response_format, ...rest } = body as Record<string, unknown>;
  const sampling: Record<string, unknown> = responseFormatSampling(response_format);
  for (const [key, value] of Object.entries(rest)) {
    if (UNSUPPORTED.includes(key) && !(key === 'stream' && value === false) && !(key === 'echo' && value === false)) throw new RowError(`field 'body.${key}' is not supported`);
    if (IGNORED.includes(key) || key === 'stream' || key === 'echo') continue;
    if (!samplingField(key)) throw new RowError(`field 'body.${key}' is not a known request parameter`);
    if (key in sampling) throw new RowError(`field 'body.${key}' and 'body.response_format' both ask for structured output`);
    sampling[key] = value;
  }
  if (max_completion_tokens !== undefined) sampling.max_tokens ??= max_completion_tokens;
  if (stop !== undefined && stop !== null) sampling.stop = typeof stop === 'string' ? [stop] : stop;
  // Chat asks for logprobs with a flag plus a count; completions with the count alone, as vLLM takes it.
  if (url === OPENAI_CHAT_URL && logprobs === true) sampling.logprobs = top_logprobs ?? 0;
  else if (url === OPENAI_COMPLETIONS_URL && logprobs !== undefined && logprobs !== null) sampling.logprobs = logprobs;
  if (url === OPENAI_CHAT_URL && prompt !== undefined) throw new RowError(`field 'body.prompt' does not belong to ${OPENAI_CHAT_URL}: use body.messages`);
  if (url === OPENAI_COMPLETIONS_URL && messages !== undefined) throw new RowError(`field 'body.messages' does not belong to ${OPENAI_COMPLETIONS_URL}: use body.prompt`);
  return {
    jobId,
    url,
    model: typeof model === 'string' ? model : undefined,
    prompt,
    messages: messages as ChatMessage[] | undefined,
    sampling: guidedJsonText(sampling) as SamplingParams,
  };
}
