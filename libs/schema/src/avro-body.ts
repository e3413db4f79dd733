// Avro binary bodies: writing with a field-naming error, reading through a cached writer-to-reader resolver.
import type * as avro from 'avsc';
import { SchemaError } from './errors';

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
    const got = bad === undefined ? 'undefined' : JSON.stringify(bad)?.slice(0, 60);
    const detail = field ? `field '${field}' has an invalid value ${got}` : (err as Error).message;
    throw new SchemaError('INVALID_FIELD', `cannot encode ${type.name}: ${detail}`, field || undefined, { cause: err });
  }
}

/** Decodes a body written with `writer` into the shape of `reader`. */
export function readBody(reader: avro.Type, writer: avro.Type, body: Buffer, label: string): unknown {
  const resolver = reader === writer ? undefined : resolverFor(reader, writer, label);
  try {
    return reader.fromBuffer(body, resolver);
  } catch (err) {
    throw new SchemaError('BAD_AVRO', `${label}: the Avro body does not decode as ${reader.name}: ${(err as Error).message}`, undefined, { cause: err });
  }
}
