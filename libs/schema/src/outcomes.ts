// The one table of per-job outcome codes every Sluice process writes: what each means, whether a retry may help,
// and where it goes (a dead letter on the DLQ, or an error line on the results topic / in generate's output).

/** Where a job with this outcome ends: the DLQ (collect still writes it as an error line) or an error Completion. */
export type OutcomeRecord = 'dead-letter' | 'error-line';

export interface OutcomeInfo {
  meaning: string;
  /** Whether the same job, run again unchanged on the same deployment, may succeed. */
  retriable: boolean;
  record: OutcomeRecord;
}

export const OUTCOMES = {
  BAD_ROW: { meaning: 'sluice produce --skip-bad skipped the input row (not parseable, an unknown field, a value no engine runs); written to the DLQ by produce', retriable: false, record: 'dead-letter' },
  UNDECODABLE: { meaning: 'the message is not a PromptJob in any known schema version', retriable: false, record: 'dead-letter' },
  SCHEMA_VIOLATION: { meaning: 'a PromptJob field breaks a rule (no prompt nor messages, empty prompt, bad chat roles or template)', retriable: false, record: 'dead-letter' },
  INVALID_SAMPLING: { meaning: 'a sampling parameter is out of range or contradicts another', retriable: false, record: 'dead-letter' },
  INVALID_STRUCTURED_OUTPUT: { meaning: "the job's structured-output constraint (guided_json, guided_regex, guided_choice, guided_grammar) is over the size bounds, does not compile in time, or needs too long for one token's mask", retriable: false, record: 'dead-letter' },
  PROMPT_TOO_LARGE: { meaning: "the prompt is over --max-prompt-bytes, or prompt plus max_tokens is over the model's maximum length", retriable: false, record: 'dead-letter' },
  MESSAGE_TOO_LARGE: { meaning: 'the record is over --max-message-bytes; never decoded', retriable: false, record: 'dead-letter' },
  LIMIT_EXCEEDED: { meaning: 'a length or count over a decode limit (--max-messages, --max-metadata-entries...)', retriable: false, record: 'dead-letter' },
  INVALID_UTF8: { meaning: 'a string that is not valid UTF-8, or a lone surrogate', retriable: false, record: 'dead-letter' },
  DECODE_TIMEOUT: { meaning: 'decoding ran over --decode-timeout-ms and was stopped', retriable: false, record: 'dead-letter' },
  ENGINE_CRASHED: { meaning: 'the engine broke each time it ran the job alone (twice, on fresh engines that ran other work fine): set aside so the worker goes on', retriable: false, record: 'dead-letter' },
  DEADLINE_EXCEEDED: { meaning: "the job's deadline passed before it ran", retriable: false, record: 'error-line' },
  MODEL_MISMATCH: { meaning: 'the job names a model this deployment does not serve (see --served-model-name)', retriable: false, record: 'error-line' },
  RESULT_TOO_LARGE: { meaning: "the completion does not fit the results topic's max.message.bytes even cut; dead-lettered when not even the error record fits", retriable: false, record: 'error-line' },
  ENGINE_REJECTED: { meaning: "a well-formed job this engine cannot serve: over its KV cache or --max-num-seqs, no chat template, a vLLM value it lacks", retriable: false, record: 'error-line' },
} as const satisfies Record<string, OutcomeInfo>;

export type OutcomeCode = keyof typeof OUTCOMES;
export type DeadLetterCode = { [K in OutcomeCode]: (typeof OUTCOMES)[K]['record'] extends 'dead-letter' ? K : never }[OutcomeCode];
export type ErrorLineCode = Exclude<OutcomeCode, DeadLetterCode>;

export const isDeadLetterCode = (code: OutcomeCode): code is DeadLetterCode => OUTCOMES[code].record === 'dead-letter';

/**
 * The MODEL_MISMATCH reason when a job names a model that is none of `served` (the model's own name and any
 * --served-model-name), else undefined; a job naming no model runs on whatever is served.
 */
export function modelMismatch(jobModel: string | null | undefined, served: readonly string[]): string | undefined {
  if (jobModel === null || jobModel === undefined || jobModel === '' || served.includes(jobModel)) return undefined;
  const names = served.map((s) => `"${s}"`).join(', ');
  return `job asks for model "${jobModel}", this deployment serves ${names} (--served-model-name adds a name)`;
}
