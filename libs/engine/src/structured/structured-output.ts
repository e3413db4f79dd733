// What a request's structured-output parameters ask for, checked and in canonical form: the one constraint
// (vLLM allows one per request) and the text the grammar cache keys it by.
import { InvalidSamplingParamsError, InvalidStructuredOutputError } from '../errors';

export type StructuredOutputKind = 'json' | 'regex' | 'choice' | 'grammar' | 'json_object';

/** A checked constraint: `text` is the canonical schema / regex / choices JSON / EBNF ('' for json_object). */
export interface StructuredOutput {
  kind: StructuredOutputKind;
  text: string;
}

/** Characters a schema, regex, grammar or the choices together may have: bounds compile time and memory. */
export const MAX_STRUCTURED_OUTPUT_CHARS = 64 * 1024;
export const MAX_CHOICES = 1024;

/** The engine's names of the five parameters, in the order the table lists them. */
export const STRUCTURED_PARAMS = ['guidedJson', 'guidedRegex', 'guidedChoice', 'guidedGrammar', 'guidedJsonObject'] as const;
export type StructuredParam = (typeof STRUCTURED_PARAMS)[number];

const KIND: Record<StructuredParam, StructuredOutputKind> = {
  guidedJson: 'json', guidedRegex: 'regex', guidedChoice: 'choice', guidedGrammar: 'grammar', guidedJsonObject: 'json_object',
};

// JSON with object keys sorted, so keyword order does not split the cache; except a schema's `properties`, kept in
// the user's order: XGrammar writes an object's members in that order (as OpenAI's structured outputs do).
function canonicalJson(value: unknown, inOrder = false): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = inOrder ? Object.keys(value) : Object.keys(value).sort();
    const entries = keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k], !inOrder && k === 'properties')}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

function bounded(text: string, what: string): string {
  if (text.length > MAX_STRUCTURED_OUTPUT_CHARS) throw new InvalidStructuredOutputError(`${what} has ${text.length} characters, more than ${MAX_STRUCTURED_OUTPUT_CHARS}`);
  return text;
}

function schemaText(value: unknown): string {
  let schema = value;
  if (typeof value === 'string') {
    bounded(value, 'the JSON schema');
    try {
      schema = JSON.parse(value);
    } catch (e) {
      throw new InvalidStructuredOutputError(`the JSON schema is not JSON (${(e as Error).message})`);
    }
  }
  if (typeof schema !== 'boolean' && (schema === null || typeof schema !== 'object' || Array.isArray(schema))) {
    throw new InvalidSamplingParamsError('guidedJson', 'must be a JSON schema (an object, or its JSON text)');
  }
  return bounded(canonicalJson(schema), 'the JSON schema');
}

function nonEmptyText(param: StructuredParam, value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new InvalidSamplingParamsError(param, `must be a non-empty string (${what})`);
  return bounded(value, what);
}

function choicesText(value: unknown): string {
  if (!Array.isArray(value) || value.length === 0 || value.some((c) => typeof c !== 'string' || c.length === 0)) {
    throw new InvalidSamplingParamsError('guidedChoice', 'must be a non-empty list of non-empty strings');
  }
  if (value.length > MAX_CHOICES) throw new InvalidStructuredOutputError(`${value.length} choices, more than ${MAX_CHOICES}`);
  return bounded(JSON.stringify(value), 'the choice list');
}

/**
 * The one constraint among the given structured-output parameters (absent, null and guidedJsonObject false
 * mean none). Throws InvalidSamplingParamsError for a wrong type or two constraints at once, and
 * InvalidStructuredOutputError for one over the size bounds or a schema that is not JSON.
 */
export function structuredOutputOf(raw: Partial<Record<StructuredParam, unknown>>): StructuredOutput | undefined {
  const given = STRUCTURED_PARAMS.filter((p) => raw[p] !== undefined && raw[p] !== null && raw[p] !== false);
  if (given.length === 0) return undefined;
  if (given.length > 1) throw new InvalidSamplingParamsError(given[1], `only one structured-output constraint per request (also given: ${given[0]})`);
  const param = given[0];
  const value = raw[param];
  switch (param) {
    case 'guidedJson':
      return { kind: KIND[param], text: schemaText(value) };
    case 'guidedRegex':
      return { kind: KIND[param], text: nonEmptyText(param, value, 'the regex') };
    case 'guidedGrammar':
      return { kind: KIND[param], text: nonEmptyText(param, value, 'the EBNF grammar') };
    case 'guidedChoice':
      return { kind: KIND[param], text: choicesText(value) };
    case 'guidedJsonObject':
      if (value !== true) throw new InvalidSamplingParamsError(param, `must be true or false, got ${JSON.stringify(value)}`);
      return { kind: KIND[param], text: '' };
  }
}
