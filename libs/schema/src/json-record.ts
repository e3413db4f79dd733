// Turns a plain JSON value into a record of a schema: fills defaults, checks every field, and names the first bad one.
import type { AvroSchemaJson } from './schema-files';
import { SchemaError } from './errors';

type Named = Map<string, AvroSchemaJson>;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

function fail(path: string, expected: string, value: unknown): never {
  const where = path === '' ? 'the record' : `field '${path}'`;
  throw new SchemaError('INVALID_FIELD', `${where}: expected ${expected}, got ${describe(value)}`, path || undefined);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function primitive(name: string, value: unknown, path: string, logicalType: unknown): unknown {
  switch (name) {
    case 'null':
      if (value === null || value === undefined) return null;
      return fail(path, 'null', value);
    case 'boolean':
      if (typeof value === 'boolean') return value;
      return fail(path, 'a boolean', value);
    case 'int':
      if (typeof value === 'number' && Number.isInteger(value) && value >= -2147483648 && value <= 2147483647) return value;
      return fail(path, 'an integer (int32)', value);
    case 'long':
      // Timestamps may be given as ISO-8601 text in JSON; Avro carries milliseconds since the epoch.
      if (logicalType === 'timestamp-millis' && typeof value === 'string') {
        const ms = Date.parse(value);
        if (Number.isNaN(ms)) return fail(path, 'milliseconds since the epoch or an ISO-8601 date-time', value);
        return ms;
      }
      if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
      return fail(path, logicalType === 'timestamp-millis' ? 'milliseconds since the epoch or an ISO-8601 date-time' : 'an integer', value);
    case 'float':
    case 'double':
      if (typeof value === 'number' && Number.isFinite(value)) return value;
      return fail(path, 'a finite number', value);
    case 'bytes':
      if (Buffer.isBuffer(value)) return value;
      if (typeof value === 'string') return Buffer.from(value, 'base64');
      return fail(path, 'bytes (base64 text)', value);
    case 'string':
      if (typeof value === 'string') return value;
      return fail(path, 'a string', value);
    default:
      throw new SchemaError('INVALID_FIELD', `schema error: unknown type ${name} at '${path}'`, path || undefined);
  }
}

function branchName(schema: AvroSchemaJson): string {
  if (typeof schema === 'string') return schema;
  if (Array.isArray(schema)) return 'union';
  return String(schema.type);
}

function walk(schema: AvroSchemaJson, value: unknown, path: string, named: Named, namespace: string): unknown {
  if (typeof schema === 'string') {
    const ref = named.get(schema) ?? named.get(`${namespace}.${schema}`);
    return ref ? walk(ref, value, path, named, namespace) : primitive(schema, value, path, undefined);
  }
  if (Array.isArray(schema)) {
    if ((value === null || value === undefined) && schema.includes('null')) return null;
    const branches = schema.filter((b) => b !== 'null');
    let first: unknown;
    for (const branch of branches) {
      try {
        return walk(branch, value, path, named, namespace);
      } catch (err) {
        first ??= err;
      }
    }
    if (branches.length === 1) throw first;
    const options = branches.map(branchName).join(' or ');
    return fail(path, schema.includes('null') ? `${options} or null` : options, value);
  }
  const type = schema.type as AvroSchemaJson;
  switch (type) {
    case 'record': {
      const name = String(schema.name);
      const ns = typeof schema.namespace === 'string' ? schema.namespace : namespace;
      named.set(name.includes('.') || !ns ? name : `${ns}.${name}`, schema);
      named.set(name, schema);
      if (!isPlainObject(value)) return fail(path, `an object (${name})`, value);
      const fields = schema.fields as Array<{ name: string; type: AvroSchemaJson; default?: unknown }>;
      const known = new Set(fields.map((f) => f.name));
      const unknown = Object.keys(value).find((k) => !known.has(k));
      if (unknown !== undefined) {
        const at = join(path, unknown);
        throw new SchemaError('INVALID_FIELD', `field '${at}' is not part of ${name} (known: ${[...known].join(', ')})`, at);
      }
      const out: Record<string, unknown> = {};
      for (const field of fields) {
        const at = join(path, field.name);
        const given = value[field.name];
        if (given === undefined && 'default' in field) {
          out[field.name] = structuredClone(field.default);
        } else if (given === undefined) {
          throw new SchemaError('INVALID_FIELD', `field '${at}' is required`, at);
        } else {
          out[field.name] = walk(field.type, given, at, named, ns);
        }
      }
      return out;
    }
    case 'array': {
      if (!Array.isArray(value)) return fail(path, 'an array', value);
      return value.map((item, i) => walk(schema.items as AvroSchemaJson, item, `${path}[${i}]`, named, namespace));
    }
    case 'map': {
      if (!isPlainObject(value)) return fail(path, 'an object of string keys', value);
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) out[key] = walk(schema.values as AvroSchemaJson, item, join(path, key), named, namespace);
      return out;
    }
    default:
      if (typeof type === 'string') return primitive(type, value, path, schema.logicalType);
      return walk(type, value, path, named, namespace);
  }
}

/** Checks `value` against `schema` and returns it with defaults filled; throws SchemaError('INVALID_FIELD') naming the field. */
export function recordFromJson(schema: AvroSchemaJson, value: unknown): unknown {
  return walk(schema, value, '', new Map(), '');
}

/** JSON text of a decoded record; bytes become base64 text, which recordFromJson reads back. */
export function recordToJson(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    const raw = this[key];
    return Buffer.isBuffer(raw) ? raw.toString('base64') : v;
  });
}
