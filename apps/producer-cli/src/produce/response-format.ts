// Structured output as users write it in their input files: OpenAI's response_format, and guided_json as an object.
import { RowError } from './row-error';

/**
 * The guided_* sampling fields an OpenAI `response_format` asks for: `json_object` is any JSON object,
 * `json_schema` its `json_schema.schema` (OpenAI's `strict` is how XGrammar always runs: nothing beyond the schema),
 * `text` nothing. Throws RowError for anything else.
 */
export function responseFormatSampling(value: unknown): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  const format = value as { type?: unknown; json_schema?: { schema?: unknown } };
  if (typeof value !== 'object' || Array.isArray(value)) throw new RowError("field 'body.response_format' must be an object");
  switch (format.type) {
    case 'text':
      return {};
    case 'json_object':
      return { guided_json_object: true };
    case 'json_schema': {
      const schema = format.json_schema?.schema;
      if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
        throw new RowError("field 'body.response_format.json_schema.schema' must be a JSON Schema object");
      }
      return { guided_json: JSON.stringify(schema) };
    }
    default:
      throw new RowError(`field 'body.response_format.type' must be text, json_object or json_schema, got ${JSON.stringify(format.type)}`);
  }
}

/** guided_json given as a JSON object (as vLLM's API takes it) becomes its JSON text, the schema's string field. */
export function guidedJsonText(sampling: Record<string, unknown>): Record<string, unknown> {
  const v = sampling.guided_json;
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? { ...sampling, guided_json: JSON.stringify(v) } : sampling;
}
