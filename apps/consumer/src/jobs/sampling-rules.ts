import type { SamplingParams } from './schema';

/** Why sampling params cannot be served; `field` is the dotted path under the job. */
export interface SamplingViolation {
  field: string;
  message: string;
}

const isInt = (v: number) => Number.isInteger(v);

type Rule = [keyof SamplingParams, (v: number) => boolean, string];

// Ranges follow the engine's (vLLM's) documented meaning of each parameter.
const NUMERIC_RULES: Rule[] = [
  ['n', (v) => isInt(v) && v >= 1 && v <= 64, 'an integer in [1, 64]'],
  ['best_of', (v) => isInt(v) && v >= 1 && v <= 64, 'an integer in [1, 64]'],
  ['temperature', (v) => v >= 0, '>= 0'],
  ['top_p', (v) => v > 0 && v <= 1, 'in (0, 1]'],
  ['top_k', (v) => isInt(v) && (v === -1 || v >= 1), '-1 (off) or an integer >= 1'],
  ['min_p', (v) => v >= 0 && v <= 1, 'in [0, 1]'],
  ['seed', (v) => isInt(v), 'an integer'],
  ['presence_penalty', (v) => v >= -2 && v <= 2, 'in [-2, 2]'],
  ['frequency_penalty', (v) => v >= -2 && v <= 2, 'in [-2, 2]'],
  ['repetition_penalty', (v) => v > 0, '> 0'],
  ['max_tokens', (v) => isInt(v) && v >= 1, 'an integer >= 1'],
  ['min_tokens', (v) => isInt(v) && v >= 0, 'an integer >= 0'],
  ['logprobs', (v) => isInt(v) && v >= 0 && v <= 20, 'an integer in [0, 20]'],
  ['beam_width', (v) => isInt(v) && v >= 1 && v <= 64, 'an integer in [1, 64]'],
];

/** The first rule a job's sampling params break, or undefined when the engine can take them. */
export function checkSampling(s: SamplingParams | null | undefined): SamplingViolation | undefined {
  if (!s) return undefined;
  for (const [name, ok, what] of NUMERIC_RULES) {
    const v = s[name];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) return { field: `sampling.${name}`, message: `sampling.${name} must be ${what}, got ${JSON.stringify(v)}` };
  }
  if (s.best_of != null && s.n != null && s.best_of < s.n) return { field: 'sampling.best_of', message: `sampling.best_of (${s.best_of}) must be >= sampling.n (${s.n})` };
  if (s.min_tokens != null && s.max_tokens != null && s.min_tokens > s.max_tokens) {
    return { field: 'sampling.min_tokens', message: `sampling.min_tokens (${s.min_tokens}) must be <= sampling.max_tokens (${s.max_tokens})` };
  }
  if (s.stop != null && (!Array.isArray(s.stop) || !s.stop.every((x) => typeof x === 'string' && x.length > 0))) {
    return { field: 'sampling.stop', message: 'sampling.stop must be an array of non-empty strings' };
  }
  if (s.stop_token_ids != null && (!Array.isArray(s.stop_token_ids) || !s.stop_token_ids.every((x) => Number.isInteger(x) && x >= 0))) {
    return { field: 'sampling.stop_token_ids', message: 'sampling.stop_token_ids must be an array of non-negative integers' };
  }
  return undefined;
}
