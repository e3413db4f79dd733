// Avro binary bodies: writing with a field-naming error, reading through a cached writer-to-reader resolver.
import type * as avro from 'avsc';
import { guardAvroBody } from './avro-guard';
import type { DecodeLimits } from './decode-limits';
import { describeValue, SchemaError } from './errors';

/** Largest magnitude of a long avsc writes and reads exactly (it keeps one below 2^53 - 1 for rounding). */
export const MAX_AVRO_LONG = Number.MAX_SAFE_INTEGER - 1;

const resolvers = new WeakMap<avro.Type, WeakMap<avro.Type, avro.Resolver>>();

function resolverFor(reader: avro.Type, writer: avro.Type, label: string): avro.Resolver {
  let byWriter = resolvers.get(reader);
  if (!byWriter) resolvers.set(reader, (byWriter = new WeakMap()));
  let resolver = byWriter.get(writer);
  if (!resolver) {
    try {
      resolver = reader.createResolver(writer);
    } catch (err) {
      throw new SchemaError('INCOMPATIBLE_SCHEMA', `${label}: the writer schema cannot be read as ${reader.name}: ${(err as Error).message}`, undefined, { cause: err });
    }
    byWriter.set(writer, resolver);
  }
  return resolver;
}

/** Encodes `value`; an invalid value throws SchemaError('INVALID_FIELD') naming the first bad field. */
export function writeBody(type: avro.Type, value: unknown): Buffer {
  try {
    return type.toBuffer(value);
  } catch (err) {
    let field = '';
    let bad: unknown;
    type.isValid(value, {
      errorHook: (path, val) => {
        if (field === '') [field, bad] = [path.join('.') || '(record)', val];
      },
    });
    const detail = field ? `field '${field}' has an invalid value: ${describeValue(bad)}` : (err as Error).message;
    throw new SchemaError('INVALID_FIELD', `cannot encode ${type.name}: ${detail}`, field || undefined, { cause: err });
  }
}

/** Decodes a body written with `writer` into the shape of `reader`, after checking it against `writer` and `limits`. */
export function readBody(reader: avro.Type, writer: avro.Type, body: Buffer, label: string, limits: DecodeLimits): unknown {
  const resolver = reader === writer ? undefined : resolverFor(reader, writer, label);
  try {
    guardAvroBody(writer, body, limits, label);
    return reader.fromBuffer(body, resolver);
  } catch (err) {
    if (err instanceof SchemaError) throw err;
    // Also a writer schema nested deeper than the stack allows, or a failure inside avsc the guard did not foresee.
    throw new SchemaError('BAD_AVRO', `${label}: the Avro body does not decode as ${reader.name}: ${(err as Error).message}`, undefined, { cause: err });
  }
}
