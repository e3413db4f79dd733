// One codec per record type: writes the configured wire format, reads any of them (single-object, Confluent, JSON).
import * as avro from 'avsc';
import { readBody, writeBody } from './avro-body';
import { frameConfluent, isConfluentFramed, parseConfluentFrame } from './confluent-framing';
import { resolveDecodeLimits, type DecodeLimits } from './decode-limits';
import { checkRecordSize, checkUtf8 } from './decode-checks';
import { SchemaError } from './errors';
import { recordFromJson } from './json-record';
import type { SchemaRegistryClient } from './registry-client';
import { versionByNumber, type SchemaFamily, type SchemaVersion } from './schema-files';
import { decodeSingleObject, encodeSingleObject, isSingleObject } from './single-object';

export interface RecordCodecOptions {
  /** With a registry, encode writes Confluent framing; without, Avro single-object encoding. */
  registry?: SchemaRegistryClient;
  /** Registry subject of the written schema, e.g. `<topic>-value` (Confluent's TopicNameStrategy). Required to encode with a registry. */
  subject?: string;
  /** Schema version to write; the latest by default. */
  writeVersion?: number;
  /** Also read plain JSON records (default true): handy for jobs produced by hand or by non-Avro services. */
  acceptJson?: boolean;
  /** Decode limits, merged over DEFAULT_DECODE_LIMITS (see DECODE_LIMITS). */
  limits?: Partial<DecodeLimits>;
}

const OPEN_BRACE = 0x7b;

function firstNonSpace(bytes: Buffer): number | undefined {
  for (const b of bytes) if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) return b;
  return undefined;
}

/** Checks a plain JSON value against the family's latest schema, rules and decode limits; fills defaults. */
export function recordFromPlain<T>(family: SchemaFamily<T>, value: unknown, limits: Partial<DecodeLimits> = {}): T {
  const withDefaults = typeof value === 'object' && value !== null && !Array.isArray(value) ? { ...family.jsonDefaults?.(), ...value } : value;
  const record = recordFromJson(family.latest.json, withDefaults, resolveDecodeLimits(limits)) as T;
  family.validate?.(record);
  return record;
}

/** Parses and checks one JSON record (see recordFromPlain). */
export function recordFromJsonText<T>(family: SchemaFamily<T>, text: string, limits: Partial<DecodeLimits> = {}): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new SchemaError('BAD_JSON', `${family.name}: not valid JSON: ${(err as Error).message}`, undefined, { cause: err });
  }
  return recordFromPlain(family, value, limits);
}

export class RecordCodec<T> {
  private readonly writer: SchemaVersion;
  private readonly registryTypes = new Map<number, Promise<avro.Type>>();
  /** The decode limits in force: options.limits over the defaults (a bad one throws RangeError here, at start). */
  readonly limits: Readonly<DecodeLimits>;

  constructor(
    readonly family: SchemaFamily<T>,
    private readonly options: RecordCodecOptions = {},
  ) {
    this.writer = options.writeVersion === undefined ? family.latest : versionByNumber(family, options.writeVersion);
    this.limits = resolveDecodeLimits(options.limits);
  }

  async encode(value: T): Promise<Buffer> {
    const { registry, subject } = this.options;
    if (!registry) return encodeSingleObject(this.family, value, this.writer);
    if (!subject) throw new SchemaError('REGISTRY_ERROR', `${this.family.name} codec: writing through a schema registry needs a subject (e.g. "<topic>-value")`);
    this.family.validate?.(value);
    const body = writeBody(this.writer.type, value);
    return frameConfluent(await registry.register(subject, JSON.stringify(this.writer.json)), body);
  }

  /** Any wire format into the latest shape; every path is bounded by the bytes present and by `limits`. */
  async decode(bytes: Buffer): Promise<T> {
    checkRecordSize(bytes.length, this.limits, this.family.name);
    if (isSingleObject(bytes)) return decodeSingleObject(this.family, bytes, this.family.latest, this.limits);
    if (isConfluentFramed(bytes)) return this.decodeConfluent(bytes);
    if (firstNonSpace(bytes) === OPEN_BRACE) {
      if (this.options.acceptJson === false) throw new SchemaError('BAD_FRAMING', `${this.family.name}: JSON records are not accepted here`);
      // toString would silently turn invalid UTF-8 into U+FFFD.
      checkUtf8(bytes, '');
      return recordFromJsonText(this.family, bytes.toString('utf8'), this.limits);
    }
    const head = bytes.length ? `0x${bytes.subarray(0, 2).toString('hex')}` : 'no bytes';
    throw new SchemaError('BAD_FRAMING', `${this.family.name}: bytes start with ${head}, which is neither single-object Avro (c301), Confluent framing (00) nor a JSON object`);
  }

  private async decodeConfluent(bytes: Buffer): Promise<T> {
    const { schemaId, body } = parseConfluentFrame(bytes);
    const writer = await this.registryType(schemaId);
    const value = readBody(this.family.latest.type, writer, body, `${this.family.name} schema id ${schemaId}`, this.limits) as T;
    this.family.validate?.(value);
    return value;
  }

  private registryType(id: number): Promise<avro.Type> {
    const { registry } = this.options;
    if (!registry) return Promise.reject(new SchemaError('REGISTRY_REQUIRED', `${this.family.name}: Confluent-framed bytes (schema id ${id}) but no schema registry is configured`));
    let type = this.registryTypes.get(id);
    if (!type) {
      type = registry.schemaById(id).then((text) => {
        try {
          return avro.Type.forSchema(JSON.parse(text) as avro.Schema, { omitRecordMethods: true });
        } catch (err) {
          throw new SchemaError('REGISTRY_ERROR', `schema id ${id} from the registry is not a valid Avro schema: ${(err as Error).message}`, undefined, { cause: err });
        }
      });
      this.registryTypes.set(id, type);
      type.catch(() => this.registryTypes.delete(id));
    }
    return type;
  }
}
