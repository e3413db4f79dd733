// Field rules of a PromptJob that the Avro schema cannot express: the engine's accepted ranges of sampling parameters.
import { MAX_AVRO_LONG } from './avro-body';
import { checkMapKey, checkWellFormed } from './decode-checks';
import { quoteText, SchemaError, shortText } from './errors';
import { BATCH_ID_PATTERN } from './topics';
import type { PromptJob, SamplingParams } from './types';

function invalid(field: string, message: string): never {
  throw new SchemaError('INVALID_FIELD', `field '${field}' ${message}`, field);
}

type NumericKey = { [K in keyof SamplingParams]-?: NonNullable<SamplingParams[K]> extends number ? K : never }[keyof SamplingParams];

// [min, max, minExclusive]; each one-line rule mirrors the engine's check.
const RANGES: Array<[NumericKey, number, number, boolean]> = [
  ['n', 1, Infinity, false],
  ['best_of', 1, Infinity, false],
  ['temperature', 0, Infinity, false],
  ['top_p', 0, 1, true],
  ['min_p', 0, 1, false],
  ['presence_penalty', -2, 2, false],
  ['frequency_penalty', -2, 2, false],
  ['repetition_penalty', 0, Infinity, true],
  ['max_tokens', 1, Infinity, false],
  ['min_tokens', 0, Infinity, false],
  ['logprobs', 0, Infinity, false],
  ['prompt_logprobs', 0, Infinity, false],
  ['beam_width', 1, Infinity, false],
  ['seed', 0, MAX_AVRO_LONG, false],
];

/**
 * Throws SchemaError naming the first parameter outside the engine's accepted range (INVALID_FIELD; NaN and
 * infinities included) or a stop string with a lone surrogate (INVALID_UTF8).
 */
export function validateSamplingParams(params: SamplingParams, prefix = 'sampling'): void {
  const at = (key: string) => (prefix ? `${prefix}.${key}` : key);
  // Avro doubles carry NaN and infinities, which no range below rejects (NaN compares false with everything).
  for (const [key, value] of Object.entries(params)) {
    if (typeof value === 'number' && !Number.isFinite(value)) invalid(at(key), `must be a finite number, got ${value}`);
  }
  params.stop?.forEach((s, i) => checkWellFormed(s, at(`stop[${i}]`)));
  for (const [key, min, max, minExclusive] of RANGES) {
    const value = params[key];
    if (value === null || value === undefined) continue;
    if (minExclusive ? value <= min : value < min) invalid(at(key), `must be ${minExclusive ? '>' : '>='} ${min}, got ${value}`);
    if (value > max) invalid(at(key), `must be <= ${max}, got ${value}`);
  }
  const { n, best_of, top_k, min_tokens, max_tokens, stop, stop_token_ids, early_stopping } = params;
  if (top_k !== null && top_k !== undefined && top_k < 1 && top_k !== -1 && top_k !== 0) invalid(at('top_k'), `must be -1 or 0 (disabled) or >= 1, got ${top_k}`);
  if (best_of != null && best_of < (n ?? 1)) invalid(at('best_of'), `must be >= n (${n ?? 1}), got ${best_of}`);
  if (min_tokens != null && max_tokens != null && min_tokens > max_tokens) invalid(at('min_tokens'), `must be <= max_tokens (${max_tokens}), got ${min_tokens}`);
  stop?.forEach((s, i) => s === '' && invalid(at(`stop[${i}]`), 'must not be empty'));
  stop_token_ids?.forEach((id, i) => id < 0 && invalid(at(`stop_token_ids[${i}]`), `must be >= 0, got ${id}`));
  if (typeof early_stopping === 'string' && early_stopping !== 'never') invalid(at('early_stopping'), `must be true, false or "never", got ${quoteText(early_stopping)}`);
}

/** Every text field of a job is well-formed UTF-16, so encoding it to UTF-8 changes nothing (avsc would write U+FFFD). */
function checkJobText(job: PromptJob): void {
  const check = (value: string | null | undefined, field: string) => typeof value === 'string' && checkWellFormed(value, field);
  check(job.job_id, 'job_id');
  check(job.batch_id, 'batch_id');
  check(job.prompt, 'prompt');
  job.messages?.forEach((m, i) => {
    check(m.role, `messages[${i}].role`);
    check(m.content, `messages[${i}].content`);
    check(m.name, `messages[${i}].name`);
  });
  check(job.model, 'model');
  for (const [key, value] of Object.entries(job.metadata ?? {})) {
    checkWellFormed(key, 'metadata', true);
    checkMapKey(key, 'metadata');
    check(value, `metadata.${shortText(key)}`);
  }
  check(job.trace_id, 'trace_id');
}

/** Everything a worker needs before it may run a job: text well-formed, ids present, one kind of prompt, parameters in range. */
export function validatePromptJob(job: PromptJob): void {
  checkJobText(job);
  if (job.job_id.trim() === '') invalid('job_id', 'must not be empty');
  if (!BATCH_ID_PATTERN.test(job.batch_id)) invalid('batch_id', `must be 1-128 letters, digits or . _ : - (starting with a letter or digit), got ${quoteText(job.batch_id)}`);
  const hasPrompt = job.prompt !== null && job.prompt !== undefined;
  const hasMessages = job.messages !== null && job.messages !== undefined;
  if (hasPrompt === hasMessages) invalid('prompt', hasPrompt ? 'and messages are both set: give exactly one' : 'or messages is required: give exactly one');
  if (hasPrompt && job.prompt === '') invalid('prompt', 'must not be empty');
  if (hasMessages && job.messages?.length === 0) invalid('messages', 'must hold at least one message');
  job.messages?.forEach((m, i) => m.role.trim() === '' && invalid(`messages[${i}].role`, 'must not be empty'));
  if (job.sampling) validateSamplingParams(job.sampling);
  if (job.trace_id != null && !/^[0-9a-f]{32}$/.test(job.trace_id)) invalid('trace_id', `must be 32 lowercase hex characters, got ${quoteText(job.trace_id)}`);
}
