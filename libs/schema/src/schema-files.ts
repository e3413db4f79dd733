// Loads the versioned .avsc files once and indexes each version by its single-object fingerprint.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as avro from 'avsc';
import { crc64AvroBytes } from './crc64-avro';

/** Where the .avsc files live: beside src/ and dist/ alike, so both ts-jest and the build find them. */
export const SCHEMA_DIR = join(__dirname, '..', 'schemas');

export type RecordName = 'PromptJob' | 'Completion' | 'DeadLetter' | 'BatchManifest';

/** An Avro schema in its JSON form, as written in the .avsc files. */
export type AvroSchemaJson = string | AvroSchemaJson[] | { [key: string]: unknown };

export interface SchemaVersion {
  name: RecordName;
  version: number;
  /** File name under SCHEMA_DIR, e.g. `prompt-job.v2.avsc`. */
  file: string;
  /** The schema with its docs, as written in the file (what a schema registry is given). */
  json: AvroSchemaJson;
  type: avro.Type;
  /** Parsing Canonical Form, the input of the fingerprint. */
  canonical: string;
  /** CRC-64-AVRO of the canonical form, 8 little-endian bytes. */
  fingerprint: Buffer;
}

/** Every version of one record type; `T` is the TypeScript shape of the latest version. */
export interface SchemaFamily<T> {
  name: RecordName;
  versions: readonly SchemaVersion[];
  latest: SchemaVersion;
  /** Field rules beyond what the schema says; throws SchemaError('INVALID_FIELD'). */
  validate?: (value: T) => void;
  /** Values a JSON record may leave out that the Avro record requires (e.g. created_at = now). */
  jsonDefaults?: () => Partial<T>;
  /** The generic parameter is only carried, never read at run time. */
  readonly _shape?: T;
}

function loadVersion(name: RecordName, file: string, version: number): SchemaVersion {
  const json = JSON.parse(readFileSync(join(SCHEMA_DIR, file), 'utf8')) as AvroSchemaJson;
  const type = avro.Type.forSchema(json as avro.Schema, { omitRecordMethods: true });
  const canonical = JSON.stringify(type.schema());
  return { name, version, file, json, type, canonical, fingerprint: crc64AvroBytes(Buffer.from(canonical, 'utf8')) };
}

/** Builds a family from its files, oldest first; the file name pattern is `<stem>.v<N>.avsc`. */
export function loadFamily<T>(name: RecordName, stem: string, count: number, extra: Pick<SchemaFamily<T>, 'validate' | 'jsonDefaults'> = {}): SchemaFamily<T> {
  const versions = Array.from({ length: count }, (_, i) => loadVersion(name, `${stem}.v${i + 1}.avsc`, i + 1));
  return { name, versions, latest: versions[versions.length - 1], ...extra };
}

/** The family's version with this fingerprint, or undefined. */
export function versionByFingerprint<T>(family: SchemaFamily<T>, fingerprint: Uint8Array): SchemaVersion | undefined {
  return family.versions.find((v) => v.fingerprint.equals(fingerprint));
}

/** A version by number; throws on an unknown one so a typo in configuration is caught at start. */
export function versionByNumber<T>(family: SchemaFamily<T>, version: number): SchemaVersion {
  const found = family.versions.find((v) => v.version === version);
  if (!found) throw new RangeError(`${family.name} has no schema version ${version} (known: ${family.versions.map((v) => v.version).join(', ')})`);
  return found;
}
