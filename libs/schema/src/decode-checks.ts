// The checks every decode path shares: a size, length or count against its limit, and text that must be valid Unicode.
import { isUtf8 } from 'node:buffer';
import { limitFor, type DecodeLimitName, type DecodeLimits } from './decode-limits';
import { SchemaError } from './errors';

/** A field path, or a function that builds it: a decoder walking many fields builds the path only for an error. */
export type FieldRef = string | (() => string);

const pathOf = (field: FieldRef): string => (typeof field === 'function' ? field() : field);

function where(field: string, isKey = false): string {
  if (isKey) return `a key of field '${field}'`;
  return field === '' ? 'the record' : `field '${field}'`;
}

/** Throws LIMIT_EXCEEDED when a record value of `bytes` bytes is over maxMessageBytes. */
export function checkRecordSize(bytes: number, limits: DecodeLimits, label: string): void {
  const limit = limits.maxMessageBytes;
  if (bytes > limit) throw new SchemaError('LIMIT_EXCEEDED', `${label}: the record is ${bytes} bytes, over the limit maxMessageBytes = ${limit}`);
}

/** Throws LIMIT_EXCEEDED when a string/bytes field of `bytes` bytes is over the limit bound to `shape`. */
export function checkStringBytes(bytes: number, ref: FieldRef, shape: string, limits: DecodeLimits, isKey = false): void {
  const name = limitFor('string', shape).name as DecodeLimitName;
  if (bytes <= limits[name]) return;
  const field = pathOf(ref);
  throw new SchemaError('LIMIT_EXCEEDED', `${where(field, isKey)} is ${bytes} bytes, over the limit ${name} = ${limits[name]}`, field || undefined);
}

/**
 * Throws LIMIT_EXCEEDED when `count` items of the array/map at `shape` exceed its bound limit. `verb` says whether
 * the count is claimed by an encoder (Avro, before anything is read) or present (parsed JSON).
 */
export function checkCount(count: number, ref: FieldRef, shape: string, limits: DecodeLimits, verb: 'claims' | 'has' = 'has'): void {
  const spec = limitFor('collection', shape);
  const limit = limits[spec.name as DecodeLimitName];
  if (count <= limit) return;
  const field = pathOf(ref);
  throw new SchemaError('LIMIT_EXCEEDED', `${where(field)} ${verb} ${count} ${spec.unit}, over the limit ${spec.name} = ${limit}`, field || undefined);
}

/** Throws INVALID_FIELD for the map key `__proto__`: assigning it to an object sets the prototype, so it would vanish. */
export function checkMapKey(key: string, field: string): void {
  if (key === '__proto__') throw new SchemaError('INVALID_FIELD', `a key of field '${field}' is "__proto__", which a JavaScript object cannot hold as data`, field || undefined);
}

/** Throws INVALID_UTF8 unless `bytes` are valid UTF-8 (overlong forms and encoded surrogates are invalid). */
export function checkUtf8(bytes: Uint8Array, ref: FieldRef, isKey = false): void {
  if (isUtf8(bytes)) return;
  const field = pathOf(ref);
  throw new SchemaError('INVALID_UTF8', `${where(field, isKey)} is not valid UTF-8`, field || undefined);
}

/** Throws INVALID_UTF8 unless `text` is well-formed UTF-16 (no lone surrogate), so it survives UTF-8 encoding unchanged. */
export function checkWellFormed(text: string, field: string, isKey = false): void {
  // String.prototype.isWellFormed is in Node 20 but not in the ES2022 lib this repository compiles against.
  if ((text as unknown as { isWellFormed(): boolean }).isWellFormed()) return;
  const at = text.search(/\p{Cs}/u);
  throw new SchemaError('INVALID_UTF8', `${where(field, isKey)} holds a lone surrogate (UTF-16 index ${at}), which UTF-8 cannot carry`, field || undefined);
}
