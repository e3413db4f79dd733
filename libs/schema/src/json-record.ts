// Turns a plain JSON value into a record of a schema: fills defaults, checks every field, and names the first bad one.
import type { AvroSchemaJson } from './schema-files';
import { MAX_AVRO_LONG } from './avro-body';
import { checkCount, checkMapKey, checkStringBytes, checkWellFormed } from './decode-checks';
import type { DecodeLimits } from './decode-limits';
import { describeValue, SchemaError, shortText } from './errors';

/** Named types seen so far, and the limits every string and collection is checked against. */
interface Context {
  named: Map<string, AvroSchemaJson>;
  limits: DecodeLimits;
}

/** Where a value is: its field path (`messages[1].content`) and its shape, the path without indexes and map keys. */
interface At {
  path: string;
  shape: string;
}

function fail(path: string, expected: string, value: unknown): never {
  const where = path === '' ? 'the record' : `field '${path}'`;
  throw new SchemaError('INVALID_FIELD', `${where}: expected ${expected}, got ${describeValue(value)}`, path || undefined);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);
}

function join(path: string, key: string): string {
  return path === '' ? shortText(key) : `${path}.${shortText(key)}`;
}

function text(value: string, at: At, limits: DecodeLimits, isKey = false): string {
  checkWellFormed(value, at.path, isKey);
  checkStringBytes(Buffer.byteLength(value), at.path, at.shape, limits, isKey);
  return value;
}

function primitive(name: string, value: unknown, at: At, limits: DecodeLimits, logicalType: unknown): unknown {
  const path = at.path;
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
      if (typeof value === 'number' && Number.isInteger(value) && Math.abs(value) <= MAX_AVRO_LONG) return value;
      return fail(path, logicalType === 'timestamp-millis' ? 'milliseconds since the epoch or an ISO-8601 date-time' : 'an integer', value);
    case 'float':
    case 'double':
      if (typeof value === 'number' && Number.isFinite(value)) return value;
      return fail(path, 'a finite number', value);
    case 'bytes': {
      if (!Buffer.isBuffer(value) && typeof value !== 'string') return fail(path, 'bytes (base64 text)', value);
      const bytes = Buffer.isBuffer(value) ? value : Buffer.from(value, 'base64');
      checkStringBytes(bytes.length, path, at.shape, limits);
      return bytes;
    }
    case 'string':
      if (typeof value === 'string') return text(value, at, limits);
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

function union(schema: AvroSchemaJson[], value: unknown, at: At, ctx: Context, namespace: string): unknown {
  if ((value === null || value === undefined) && schema.includes('null')) return null;
  const branches = schema.filter((b) => b !== 'null');
  let first: unknown;
  for (const branch of branches) {
    try {
      return walk(branch, value, at, ctx, namespace);
    } catch (err) {
      // Bad text or a limit is wrong in every branch: say so rather than "expected a or b".
      if (err instanceof SchemaError && err.code !== 'INVALID_FIELD') throw err;
      first ??= err;
    }
  }
  if (branches.length === 1) throw first;
  const options = branches.map(branchName).join(' or ');
  return fail(at.path, schema.includes('null') ? `${options} or null` : options, value);
}

function record(schema: { [key: string]: unknown }, value: unknown, at: At, ctx: Context, namespace: string): unknown {
  const name = String(schema.name);
  const ns = typeof schema.namespace === 'string' ? schema.namespace : namespace;
  ctx.named.set(name.includes('.') || !ns ? name : `${ns}.${name}`, schema);
  ctx.named.set(name, schema);
  if (!isPlainObject(value)) return fail(at.path, `an object (${name})`, value);
  const fields = schema.fields as Array<{ name: string; type: AvroSchemaJson; default?: unknown }>;
  const known = new Set(fields.map((f) => f.name));
  const unknown = Object.keys(value).find((k) => !known.has(k));
  if (unknown !== undefined) {
    const path = join(at.path, unknown);
    throw new SchemaError('INVALID_FIELD', `field '${path}' is not part of ${name} (known: ${[...known].join(', ')})`, path);
  }
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    const inner = { path: join(at.path, field.name), shape: at.shape === '' ? field.name : `${at.shape}.${field.name}` };
    const given = value[field.name];
    if (given === undefined && 'default' in field) {
      out[field.name] = structuredClone(field.default);
    } else if (given === undefined) {
      throw new SchemaError('INVALID_FIELD', `field '${inner.path}' is required`, inner.path);
    } else {
      out[field.name] = walk(field.type, given, inner, ctx, ns);
    }
  }
  return out;
}

function map(values: AvroSchemaJson, value: unknown, at: At, ctx: Context, namespace: string): unknown {
  if (!isPlainObject(value)) return fail(at.path, 'an object of string keys', value);
  const entries = Object.entries(value);
  checkCount(entries.length, at.path, at.shape, ctx.limits);
  const out: Record<string, unknown> = {};
  for (const [key, item] of entries) {
    text(key, at, ctx.limits, true);
    checkMapKey(key, at.path);
    out[key] = walk(values, item, { path: join(at.path, key), shape: at.shape }, ctx, namespace);
  }
  return out;
}

function walk(schema: AvroSchemaJson, value: unknown, at: At, ctx: Context, namespace: string): unknown {
  if (typeof schema === 'string') {
    const ref = ctx.named.get(schema) ?? ctx.named.get(`${namespace}.${schema}`);
    return ref ? walk(ref, value, at, ctx, namespace) : primitive(schema, value, at, ctx.limits, undefined);
  }
  if (Array.isArray(schema)) return union(schema, value, at, ctx, namespace);
  const type = schema.type as AvroSchemaJson;
  switch (type) {
    case 'record':
      return record(schema, value, at, ctx, namespace);
    case 'array': {
      if (!Array.isArray(value)) return fail(at.path, 'an array', value);
      checkCount(value.length, at.path, at.shape, ctx.limits);
      return value.map((item, i) => walk(schema.items as AvroSchemaJson, item, { path: `${at.path}[${i}]`, shape: at.shape }, ctx, namespace));
    }
    case 'map':
      return map(schema.values as AvroSchemaJson, value, at, ctx, namespace);
    default:
      if (typeof type === 'string') return primitive(type, value, at, ctx.limits, schema.logicalType);
      return walk(type, value, at, ctx, namespace);
  }
}

/**
 * Checks `value` against `schema` and `limits` and returns it with defaults filled; throws SchemaError naming the
 * field: INVALID_FIELD, INVALID_UTF8 (a lone surrogate) or LIMIT_EXCEEDED.
 */
export function recordFromJson(schema: AvroSchemaJson, value: unknown, limits: DecodeLimits): unknown {
  return walk(schema, value, { path: '', shape: '' }, { named: new Map(), limits }, '');
}

/** JSON text of a decoded record; bytes become base64 text, which recordFromJson reads back. */
export function recordToJson(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    const raw = this[key];
    return Buffer.isBuffer(raw) ? raw.toString('base64') : v;
  });
}
