import { SchemaError, type PromptJob } from './schema';

/** What the worker does with one message of the jobs topic. */
export type Verdict =
  | { kind: 'run'; job: PromptJob }
  /** Not a servable job at all: goes to the DLQ with the reason. */
  | { kind: 'dead-letter'; code: DeadLetterCode; message: string; job_id?: string; batch_id?: string }
  /** A well-formed job that cannot be served: answered with an error Completion. */
  | { kind: 'error-completion'; job: PromptJob; code: ErrorCompletionCode; message: string };

export type DeadLetterCode = 'UNDECODABLE' | 'SCHEMA_VIOLATION' | 'INVALID_SAMPLING' | 'PROMPT_TOO_LARGE';
export type ErrorCompletionCode = 'DEADLINE_EXCEEDED' | 'MODEL_MISMATCH' | 'ENGINE_REJECTED';

export interface ClassifyLimits {
  /** Longest prompt accepted, in UTF-8 bytes (prompt text or all message contents together). */
  maxPromptBytes: number;
  /** The served model's name; a job naming another model cannot be served here. */
  model: string;
  now: number;
}

function promptBytes(job: PromptJob): number {
  if (job.prompt != null) return Buffer.byteLength(job.prompt);
  return (job.messages ?? []).reduce((sum, m) => sum + Buffer.byteLength(m.content), 0);
}

/** Which dead-letter code a schema error is; undefined for REGISTRY_ERROR, a transient failure that must be retried. */
export function deadLetterCodeOf(err: SchemaError): DeadLetterCode | undefined {
  switch (err.code) {
    case 'REGISTRY_ERROR':
      return undefined;
    case 'INVALID_FIELD':
      return err.field?.startsWith('sampling') ? 'INVALID_SAMPLING' : 'SCHEMA_VIOLATION';
    case 'INCOMPATIBLE_SCHEMA':
      return 'SCHEMA_VIOLATION';
    default:
      return 'UNDECODABLE';
  }
}

/**
 * Decodes and validates one message. Bad input never throws, so a poison message cannot stop the worker; only a
 * failing schema registry does (the message is then retried, not dead-lettered).
 */
export async function classify(value: Buffer | null, limits: ClassifyLimits, decode: (v: Buffer) => Promise<PromptJob>): Promise<Verdict> {
  let job: PromptJob;
  try {
    job = await decode(value ?? Buffer.alloc(0));
  } catch (err) {
    const code = err instanceof SchemaError ? deadLetterCodeOf(err) : undefined;
    if (!code) throw err;
    return { kind: 'dead-letter', code, message: (err as Error).message };
  }
  const ids = { job_id: job.job_id, batch_id: job.batch_id };
  const size = promptBytes(job);
  if (size > limits.maxPromptBytes) {
    return { kind: 'dead-letter', code: 'PROMPT_TOO_LARGE', message: `prompt is ${size} bytes, over the limit of ${limits.maxPromptBytes}`, ...ids };
  }
  if (job.deadline != null && job.deadline <= limits.now) {
    return { kind: 'error-completion', job, code: 'DEADLINE_EXCEEDED', message: `deadline ${new Date(job.deadline).toISOString()} passed before the job ran` };
  }
  if (job.model != null && job.model !== '' && job.model !== limits.model) {
    return { kind: 'error-completion', job, code: 'MODEL_MISMATCH', message: `job asks for model "${job.model}", this worker serves "${limits.model}"` };
  }
  return { kind: 'run', job };
}
