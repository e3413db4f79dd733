/** Why bytes or a value could not be turned into (or out of) a record. Stable codes for logs and DeadLetter.error_code. */
export type SchemaErrorCode =
  | 'BAD_FRAMING' // bytes match no known wire format, or are cut short
  | 'UNKNOWN_FINGERPRINT' // single-object encoding whose writer schema this reader does not know
  | 'UNKNOWN_SCHEMA_ID' // Confluent framing whose schema id the registry does not know
  | 'REGISTRY_REQUIRED' // Confluent-framed bytes but no registry configured
  | 'REGISTRY_ERROR' // the schema registry failed or answered something unusable
  | 'INCOMPATIBLE_SCHEMA' // the writer schema cannot be read with this reader schema
  | 'BAD_AVRO' // framing was fine but the Avro body is malformed: truncated, overlong, a count or length past the bytes present
  | 'BAD_JSON' // a JSON record that does not parse
  | 'INVALID_FIELD' // a value that violates the schema or a field rule
  | 'INVALID_UTF8' // a string that is not valid UTF-8 (bytes) or not well-formed UTF-16 (lone surrogates); `field` names it
  | 'LIMIT_EXCEEDED'; // a size, length or count over a configured decode limit (DECODE_LIMITS); the message names field, value and limit

/**
 * Whether the same call, made again unchanged, may succeed (kafkajs's `retriable`). Only a registry that failed may:
 * the bytes are fine and the registry may answer next time. Every other code is the record's (or the configuration's)
 * own fault, so a worker dead-letters it instead of fetching it again.
 */
const RETRIABLE: Record<SchemaErrorCode, boolean> = {
  BAD_FRAMING: false,
  UNKNOWN_FINGERPRINT: false,
  UNKNOWN_SCHEMA_ID: false, // the registry answered: it does not know the id
  REGISTRY_REQUIRED: false, // configuration
  REGISTRY_ERROR: true,
  INCOMPATIBLE_SCHEMA: false,
  BAD_AVRO: false,
  BAD_JSON: false,
  INVALID_FIELD: false,
  INVALID_UTF8: false,
  LIMIT_EXCEEDED: false,
};

/** The library's one error class: a stable `code` and whether a retry may succeed. */
export class SchemaError extends Error {
  override readonly name = 'SchemaError';
  readonly retriable: boolean;

  constructor(
    readonly code: SchemaErrorCode,
    message: string,
    /** Dotted path of the offending field, e.g. `sampling.temperature` or `messages[2].role`. */
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.retriable = RETRIABLE[code];
  }
}

/** Text cut to 40 characters for an error message or field path: a field or map key may hold a megabyte. */
export function shortText(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

/** Text quoted for an error message, cut short (see shortText). */
export function quoteText(text: string): string {
  return JSON.stringify(shortText(text));
}

/** A short, exact description of a value for an error message: `number NaN`, `string "abc"`, never JSON's `null` for NaN. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `string ${quoteText(value)}`;
  if (typeof value === 'object') return Buffer.isBuffer(value) ? `${value.length} bytes` : 'an object';
  return `${typeof value} ${String(value)}`;
}
