// Avro single-object encoding: C3 01, the writer schema's CRC-64-AVRO fingerprint (8 bytes LE), then the Avro body.
import { readBody, writeBody } from './avro-body';
import { checkRecordSize } from './decode-checks';
import { resolveDecodeLimits, type DecodeLimits } from './decode-limits';
import { SchemaError } from './errors';
import { versionByFingerprint, type SchemaFamily, type SchemaVersion } from './schema-files';

const MARKER = Buffer.from([0xc3, 0x01]);
const HEADER_BYTES = MARKER.length + 8;

/** Whether the bytes start with the single-object marker. */
export function isSingleObject(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === MARKER[0] && bytes[1] === MARKER[1];
}

/** Encodes `value` with the given version (latest by default); validates it first. */
export function encodeSingleObject<T>(family: SchemaFamily<T>, value: T, version: SchemaVersion = family.latest): Buffer {
  family.validate?.(value);
  return Buffer.concat([MARKER, version.fingerprint, writeBody(version.type, value)]);
}

/** Decodes single-object bytes written with any known version into the reader version's shape (latest by default), within `limits` (merged over the defaults). */
export function decodeSingleObject<T>(family: SchemaFamily<T>, bytes: Buffer, reader: SchemaVersion = family.latest, limits: Partial<DecodeLimits> = {}): T {
  const resolved = resolveDecodeLimits(limits);
  checkRecordSize(bytes.length, resolved, family.name);
  if (!isSingleObject(bytes)) throw new SchemaError('BAD_FRAMING', `${family.name}: bytes do not start with the single-object marker C3 01`);
  if (bytes.length < HEADER_BYTES) throw new SchemaError('BAD_FRAMING', `${family.name}: single-object header cut short (${bytes.length} of ${HEADER_BYTES} bytes)`);
  const fingerprint = bytes.subarray(2, HEADER_BYTES);
  const writer = versionByFingerprint(family, fingerprint);
  if (!writer) {
    const known = family.versions.map((v) => `v${v.version}=${v.fingerprint.toString('hex')}`).join(', ');
    throw new SchemaError('UNKNOWN_FINGERPRINT', `${family.name}: unknown schema fingerprint ${Buffer.from(fingerprint).toString('hex')} (known: ${known})`);
  }
  const value = readBody(reader.type, writer.type, bytes.subarray(HEADER_BYTES), `${family.name} v${writer.version}`, resolved) as T;
  family.validate?.(value);
  return value;
}
