import { DECODE_LIMITS, modelMismatch, type DeadLetterCode, type ErrorLineCode as ErrorCompletionCode } from '@sluice/schema';
import { isRetriable } from '../errors';
import { DecodeThreadError, RemoteDecodeError } from './decode-thread';
import { SchemaError, type PromptJob } from './schema';

/** What the worker does with one message of the jobs topic. */
export type Verdict =
  | { kind: 'run'; job: PromptJob }
  /** Not a servable job at all: goes to the DLQ with the reason. */
  | { kind: 'dead-letter'; code: DeadLetterCode; message: string; job_id?: string; batch_id?: string }
  /** A well-formed job that cannot be served: answered with an error Completion. */
  | { kind: 'error-completion'; job: PromptJob; code: ErrorCompletionCode; message: string };

// The codes and what each means live in @sluice/schema's one OUTCOMES table, shared with generate.
export type { DeadLetterCode, ErrorLineCode as ErrorCompletionCode } from '@sluice/schema';

export interface ClassifyLimits {
  /** Largest record value; a larger one is dead-lettered before any decode. */
  maxMessageBytes: number;
  /** Longest prompt accepted, in UTF-8 bytes (prompt text or all message contents together). */
  maxPromptBytes: number;
  /** The served model's names (its own and any --served-model-name); a job naming another model cannot be served here. */
  model: string | readonly string[];
  now: number;
}

function promptBytes(job: PromptJob): number {
  if (job.prompt != null) return Buffer.byteLength(job.prompt);
  return (job.messages ?? []).reduce((sum, m) => sum + Buffer.byteLength(m.content), 0);
}

// A prompt field over its decode limit is the same failure as a prompt over --max-prompt-bytes.
const PROMPT_FIELDS = new Set<string>(DECODE_LIMITS.find((l) => l.name === 'maxPromptBytes')?.fields ?? []);
const isPromptField = (field: string | undefined) => field !== undefined && PROMPT_FIELDS.has(field.replace(/\[\d+\]/g, ''));

/**
 * Which dead-letter code a decode failure is; undefined for a failure its error calls retriable, to be fetched again
 * (the schema registry or the decode thread being down). Anything else a decoder throws is a bug it hit on this
 * record: UNDECODABLE, never thrown on.
 */
export function deadLetterCodeOf(err: unknown): DeadLetterCode | undefined {
  if (isRetriable(err)) return undefined;
  if (err instanceof DecodeThreadError) return err.code === 'DECODE_TIMEOUT' ? 'DECODE_TIMEOUT' : 'UNDECODABLE';
  if (!(err instanceof SchemaError)) return 'UNDECODABLE';
  switch (err.code) {
    case 'INVALID_FIELD':
      return err.field?.startsWith('sampling') ? 'INVALID_SAMPLING' : 'SCHEMA_VIOLATION';
    case 'INCOMPATIBLE_SCHEMA':
      return 'SCHEMA_VIOLATION';
    case 'INVALID_UTF8':
      return 'INVALID_UTF8';
    case 'LIMIT_EXCEEDED':
      return isPromptField(err.field) ? 'PROMPT_TOO_LARGE' : 'LIMIT_EXCEEDED';
    default:
      return 'UNDECODABLE';
  }
}

// A decoder's own bug is named as such, with what it threw, so the reason is never mistaken for a schema rule.
function reasonOf(err: unknown): string {
  if (err instanceof SchemaError || err instanceof DecodeThreadError) return err.message;
  if (err instanceof RemoteDecodeError) return `the decoder failed on this record: ${err.remoteName}: ${err.message}`;
  return `the decoder failed on this record: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`;
}

/**
 * Decodes and validates one message. Bad input never throws, so a poison message cannot stop the worker; only a
 * failing schema registry or decode thread does (the message is then retried, not dead-lettered).
 */
export async function classify(value: Buffer | null, limits: ClassifyLimits, decode: (v: Buffer) => Promise<PromptJob>): Promise<Verdict> {
  const bytes = value ?? Buffer.alloc(0);
  if (bytes.length > limits.maxMessageBytes) {
    return { kind: 'dead-letter', code: 'MESSAGE_TOO_LARGE', message: `the value is ${bytes.length} bytes, over the limit of ${limits.maxMessageBytes} (--max-message-bytes)` };
  }
  let job: PromptJob;
  try {
    job = await decode(bytes);
  } catch (err) {
    const code = deadLetterCodeOf(err);
    if (!code) throw err;
    return { kind: 'dead-letter', code, message: reasonOf(err) };
  }
  const ids = { job_id: job.job_id, batch_id: job.batch_id };
  const size = promptBytes(job);
  if (size > limits.maxPromptBytes) {
    return { kind: 'dead-letter', code: 'PROMPT_TOO_LARGE', message: `prompt is ${size} bytes, over the limit of ${limits.maxPromptBytes}`, ...ids };
  }
  if (job.deadline != null && job.deadline <= limits.now) {
    return { kind: 'error-completion', job, code: 'DEADLINE_EXCEEDED', message: `deadline ${new Date(job.deadline).toISOString()} passed before the job ran` };
  }
  const mismatch = modelMismatch(job.model, typeof limits.model === 'string' ? [limits.model] : limits.model);
  if (mismatch) return { kind: 'error-completion', job, code: 'MODEL_MISMATCH', message: mismatch };
  return { kind: 'run', job };
}
