// The consumer's one seam to the wire schema. The record shapes mirror @sluice/schema's types (libs/schema/src/types.ts);
// until that package exports its codecs this module carries the JSON wire form only, and is replaced by re-exports then.

export interface SamplingParams {
  n?: number | null;
  best_of?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  min_p?: number | null;
  seed?: number | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  repetition_penalty?: number | null;
  stop?: string[] | null;
  stop_token_ids?: number[] | null;
  max_tokens?: number | null;
  min_tokens?: number | null;
  logprobs?: number | null;
  use_beam_search?: boolean | null;
  beam_width?: number | null;
}

export interface ChatMessage {
  role: string;
  content: string;
  name?: string | null;
}

export interface PromptJob {
  job_id: string;
  batch_id: string;
  prompt?: string | null;
  messages?: ChatMessage[] | null;
  model?: string | null;
  sampling?: SamplingParams | null;
  priority?: number | null;
  metadata: Record<string, string>;
  created_at: number;
  deadline?: number | null;
}

export type FinishReason = 'stop' | 'length' | 'abort';

export interface CompletionOutput {
  index: number;
  text: string;
  token_ids?: number[] | null;
  finish_reason?: FinishReason | null;
  cumulative_logprob?: number | null;
}

export interface Completion {
  job_id: string;
  batch_id: string;
  outputs: CompletionOutput[];
  usage: { prompt_tokens: number; completion_tokens: number };
  timings: { queued_ms: number; first_token_ms?: number | null; total_ms: number };
  model: string;
  worker_id: string;
  metadata: Record<string, string>;
  error?: { code: string; message: string } | null;
  completed_at: number;
}

export interface DeadLetter {
  key?: Buffer | null;
  value?: Buffer | null;
  headers: Record<string, Buffer>;
  source_topic: string;
  source_partition: number;
  source_offset: number;
  error_code: string;
  error_message: string;
  job_id?: string | null;
  batch_id?: string | null;
  worker_id?: string | null;
  failed_at: number;
}

export type DecodeErrorCode = 'BAD_FRAMING' | 'BAD_JSON' | 'INVALID_FIELD';

/** Bytes that are not a PromptJob; `field` says which field broke the schema, when one did. */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  constructor(readonly code: DecodeErrorCode, message: string, readonly field?: string) {
    super(message);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function requireString(o: Record<string, unknown>, field: string): string {
  const v = o[field];
  if (typeof v !== 'string' || v.length === 0) throw new DecodeError('INVALID_FIELD', `${field} must be a non-empty string`, field);
  return v;
}

function optional<T>(o: Record<string, unknown>, field: string, check: (v: unknown) => v is T, what: string): T | null {
  const v = o[field];
  if (v === undefined || v === null) return null;
  if (!check(v)) throw new DecodeError('INVALID_FIELD', `${field} must be ${what}`, field);
  return v;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Decodes a job from its wire bytes (JSON form). Throws DecodeError naming the field on a schema violation. */
export function decodePromptJob(value: Buffer | null): PromptJob {
  if (!value || value.length === 0) throw new DecodeError('BAD_FRAMING', 'empty message value');
  if (value[0] !== 0x7b) throw new DecodeError('BAD_FRAMING', 'message value is neither Avro-framed nor a JSON object');
  let raw: unknown;
  try {
    raw = JSON.parse(value.toString('utf8'));
  } catch (err) {
    throw new DecodeError('BAD_JSON', `message value is not valid JSON: ${(err as Error).message}`);
  }
  if (!isRecord(raw)) throw new DecodeError('BAD_JSON', 'message value is not a JSON object');
  const job_id = requireString(raw, 'job_id');
  const batch_id = requireString(raw, 'batch_id');
  // Batch ids become S3 path segments (same rule as @sluice/schema's BATCH_ID_PATTERN).
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(batch_id)) throw new DecodeError('INVALID_FIELD', 'batch_id must be 1-128 letters, digits or . _ : -', 'batch_id');
  const prompt = optional(raw, 'prompt', isString, 'a string');
  const messagesRaw = raw.messages;
  let messages: ChatMessage[] | null = null;
  if (messagesRaw !== undefined && messagesRaw !== null) {
    if (!Array.isArray(messagesRaw)) throw new DecodeError('INVALID_FIELD', 'messages must be an array', 'messages');
    messages = messagesRaw.map((m, i) => {
      if (!isRecord(m) || typeof m.role !== 'string' || typeof m.content !== 'string') {
        throw new DecodeError('INVALID_FIELD', `messages[${i}] must have string role and content`, `messages[${i}]`);
      }
      return { role: m.role, content: m.content, name: typeof m.name === 'string' ? m.name : null };
    });
  }
  if (prompt === null && messages === null) throw new DecodeError('INVALID_FIELD', 'one of prompt or messages is required', 'prompt');
  if (prompt !== null && messages !== null) throw new DecodeError('INVALID_FIELD', 'prompt and messages are exclusive', 'messages');
  const sampling = raw.sampling;
  if (sampling !== undefined && sampling !== null && !isRecord(sampling)) {
    throw new DecodeError('INVALID_FIELD', 'sampling must be an object', 'sampling');
  }
  const metadata = raw.metadata ?? {};
  if (!isRecord(metadata) || !Object.values(metadata).every(isString)) {
    throw new DecodeError('INVALID_FIELD', 'metadata must map strings to strings', 'metadata');
  }
  return {
    job_id,
    batch_id,
    prompt,
    messages,
    model: optional(raw, 'model', isString, 'a string'),
    sampling: (sampling as SamplingParams | undefined) ?? null,
    priority: optional(raw, 'priority', isNumber, 'a number'),
    metadata: metadata as Record<string, string>,
    created_at: optional(raw, 'created_at', isNumber, 'a number of epoch milliseconds') ?? 0,
    deadline: optional(raw, 'deadline', isNumber, 'a number of epoch milliseconds'),
  };
}

export function encodeCompletion(c: Completion): Buffer {
  return Buffer.from(JSON.stringify(c));
}

export function encodeDeadLetter(d: DeadLetter): Buffer {
  const b64 = (b?: Buffer | null) => (b ? b.toString('base64') : null);
  const headers = Object.fromEntries(Object.entries(d.headers).map(([k, v]) => [k, v.toString('base64')]));
  return Buffer.from(JSON.stringify({ ...d, key: b64(d.key), value: b64(d.value), headers }));
}
