/** Why bytes or a value could not be turned into (or out of) a record. Stable codes for logs and DeadLetter.error_code. */
export type SchemaErrorCode =
  | 'BAD_FRAMING' // bytes match no known wire format, or are cut short
  | 'UNKNOWN_FINGERPRINT' // single-object encoding whose writer schema this reader does not know
  | 'UNKNOWN_SCHEMA_ID' // Confluent framing whose schema id the registry does not know
  | 'REGISTRY_REQUIRED' // Confluent-framed bytes but no registry configured
  | 'REGISTRY_ERROR' // the schema registry failed or answered something unusable
  | 'INCOMPATIBLE_SCHEMA' // the writer schema cannot be read with this reader schema
  | 'BAD_AVRO' // framing was fine but the Avro body does not decode
  | 'BAD_JSON' // a JSON record that does not parse
  | 'INVALID_FIELD'; // a value that violates the schema or a field rule

export class SchemaError extends Error {
  override readonly name = 'SchemaError';

  constructor(
    readonly code: SchemaErrorCode,
    message: string,
    /** Dotted path of the offending field, e.g. `sampling.temperature` or `messages[2].role`. */
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
