import { checkSampling } from './sampling-rules';
import { DecodeError, decodePromptJob, type PromptJob } from './schema';

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

/** Decodes and validates one message; never throws for bad input, so a poison message cannot stop the worker. */
export function classify(value: Buffer | null, limits: ClassifyLimits, decode: (v: Buffer | null) => PromptJob = decodePromptJob): Verdict {
  let job: PromptJob;
  try {
    job = decode(value);
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    return { kind: 'dead-letter', code: err.code === 'INVALID_FIELD' ? 'SCHEMA_VIOLATION' : 'UNDECODABLE', message: err.message };
  }
  const ids = { job_id: job.job_id, batch_id: job.batch_id };
  const violation = checkSampling(job.sampling);
  if (violation) return { kind: 'dead-letter', code: 'INVALID_SAMPLING', message: violation.message, ...ids };
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
