// TypeScript shapes of the records in ../schemas (latest versions). Nullable Avro fields are `T | null`, and may be
// left out when encoding (they default to null). Timestamps are milliseconds since the Unix epoch.
import type { SamplingParams } from './sampling-parameters';

/** Sampling parameters: their shape derives from the one list of them (sampling-parameters.ts). */
export type { SamplingParams };

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
  /** Added in prompt-job v2. */
  trace_id?: string | null;
}

export interface TopLogprob {
  token: number;
  logprob: number;
}

export interface TokenLogprob {
  token: number;
  logprob: number;
  top: TopLogprob[];
}

export type FinishReason = 'stop' | 'length' | 'abort';

export interface CompletionOutput {
  index: number;
  text: string;
  token_ids?: number[] | null;
  finish_reason?: FinishReason | null;
  stop_reason?: string | null;
  cumulative_logprob?: number | null;
  logprobs?: TokenLogprob[] | null;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  /** Added in completion v2: prompt tokens served from the prefix cache (null or absent: written by v1). */
  cached_tokens?: number | null;
}

export interface Timings {
  queued_ms: number;
  first_token_ms?: number | null;
  total_ms: number;
}

export interface CompletionError {
  code: string;
  message: string;
}

export interface Completion {
  job_id: string;
  batch_id: string;
  outputs: CompletionOutput[];
  usage: Usage;
  timings: Timings;
  model: string;
  worker_id: string;
  metadata: Record<string, string>;
  error?: CompletionError | null;
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
  /** Added in dead-letter v2: the original value's length and SHA-256 (hex), set whether or not it was cut. */
  value_size?: number | null;
  value_sha256?: string | null;
  /** Added in dead-letter v2: what was cut so the dead letter fits the DLQ topic (absent or false: nothing). */
  value_truncated?: boolean;
  key_truncated?: boolean;
  headers_truncated?: boolean;
}

export interface BatchManifest {
  batch_id: string;
  jobs_topic: string;
  job_count: number;
  skipped_rows: number;
  source: string;
  created_at: number;
  completed_at: number;
}
