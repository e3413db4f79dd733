// Checks an Avro body against its writer schema before avsc decodes it. avsc trusts every count and length it reads,
// so a forged block count makes it loop or allocate without end; this walk checks each count, length and varint
// against the bytes present and the decode limits first. Its work is O(bytes): every item it visits is paid for by
// at least one byte, and nothing claimed is looped over before it is checked.
import type * as avro from 'avsc';
import { MAX_AVRO_LONG } from './avro-body';
import { checkCount, checkMapKey, checkStringBytes, checkUtf8 } from './decode-checks';
import type { DecodeLimits } from './decode-limits';
import { SchemaError, shortText } from './errors';

/** A map entry in a field path: its key's bytes, decoded only when an error names it. */
class MapKey {
  constructor(
    readonly start: number,
    readonly end: number,
  ) {}
}

type Segment = string | number | MapKey;

const minSizes = new WeakMap<avro.Type, number>();

/** Fewest bytes a value of `type` can take (cycles count as 0, so it stays a lower bound). */
function minSize(type: avro.Type): number {
  const known = minSizes.get(type);
  if (known !== undefined) return known;
  minSizes.set(type, 0);
  const t = type as avro.Type & Record<string, unknown>;
  let size: number;
  switch (type.typeName) {
    case 'null': size = 0; break;
    case 'float': size = 4; break;
    case 'double': size = 8; break;
    case 'fixed': size = t.size as number; break;
    case 'record': case 'error': size = (t.fields as avro.types.Field[]).reduce((sum, f) => sum + minSize(f.type), 0); break;
    case 'union:wrapped': case 'union:unwrapped': size = 1 + Math.min(...(t.types as avro.Type[]).map(minSize)); break;
    default: size = t.underlyingType ? minSize(t.underlyingType as avro.Type) : 1;
  }
  minSizes.set(type, size);
  return size;
}

/** An integral number in full digits (2^60 prints as 1152921504606846976, not 1152921504606847000). */
const digits = (n: number) => (Number.isSafeInteger(n) ? String(n) : BigInt(n).toString());

const PROTO_KEY_BYTES = '__proto__'.length;
const LONG_BYTES = 10;
const INT_BYTES = 5;

class Walk {
  private pos = 0;
  /** Items claimed by every array and map so far; kept <= the body's length, so even zero-byte items cost a byte. */
  private items = 0;
  private readonly path: Segment[] = [];
  private readonly shapes: string[] = [''];
  private readonly fieldRef = () => this.field();

  constructor(
    private readonly buf: Buffer,
    private readonly limits: DecodeLimits,
    private readonly label: string,
  ) {}

  run(type: avro.Type): void {
    this.value(type);
    const left = this.buf.length - this.pos;
    if (left > 0) this.fail(`${left} trailing bytes after the record`);
  }

  private field(): string {
    let out = '';
    for (const s of this.path) {
      if (typeof s === 'number') out += `[${s}]`;
      else {
        const name = typeof s === 'string' ? s : this.keyText(s);
        out += out === '' ? name : `.${name}`;
      }
    }
    return out;
  }

  private keyText(key: MapKey): string {
    return shortText(this.buf.toString('utf8', key.start, key.end));
  }

  private get shape(): string {
    return this.shapes[this.shapes.length - 1];
  }

  private fail(detail: string): never {
    const field = this.field();
    const where = field === '' ? 'the record' : `field '${field}'`;
    throw new SchemaError('BAD_AVRO', `${this.label}: malformed Avro at body byte ${this.pos}, ${where}: ${detail}`, field || undefined);
  }

  private remaining(): number {
    return this.buf.length - this.pos;
  }

  /** A zigzag varint of at most `maxBytes` bytes; exact up to 2^53, and a larger magnitude stays larger (counts and lengths only compare). */
  private varint(maxBytes: number, what: string): number {
    let raw = 0;
    let scale = 1;
    for (let i = 0; ; i++) {
      if (this.pos >= this.buf.length) this.fail(`${what} is cut short`);
      const b = this.buf[this.pos++];
      raw += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        const topBits = maxBytes === LONG_BYTES ? 1 : 4;
        if (i === maxBytes - 1 && b >> topBits !== 0) this.fail(`${what} overflows ${maxBytes === LONG_BYTES ? 64 : 32} bits`);
        break;
      }
      if (i === maxBytes - 1) this.fail(`${what} runs past ${maxBytes} bytes`);
      scale *= 128;
    }
    return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
  }

  private long(what: string): number {
    const n = this.varint(LONG_BYTES, what);
    if (Math.abs(n) > MAX_AVRO_LONG) this.fail(`${what} ${digits(n)} is beyond +-${MAX_AVRO_LONG}, which a JavaScript number cannot hold exactly`);
    return n;
  }

  private skip(bytes: number, what: string): void {
    if (bytes > this.remaining()) this.fail(`${what} needs ${bytes} bytes but only ${this.remaining()} remain`);
    this.pos += bytes;
  }

  private index(count: number, what: string): number {
    const i = this.varint(LONG_BYTES, what);
    if (i < 0 || i >= count) this.fail(`${what} ${digits(i)} is out of range (0..${count - 1})`);
    return i;
  }

  /** Checks a string/bytes value (or a map key) and returns where its content starts. */
  private text(utf8: boolean, isKey = false): number {
    const what = isKey ? 'map key length' : `${utf8 ? 'string' : 'bytes'} length`;
    const length = this.varint(LONG_BYTES, what);
    if (length < 0) this.fail(`${what} is negative (${digits(length)})`);
    if (length > this.remaining()) this.fail(`${what} claims ${digits(length)} bytes but only ${this.remaining()} remain`);
    checkStringBytes(length, this.fieldRef, this.shape, this.limits, isKey);
    if (utf8) checkUtf8(this.buf.subarray(this.pos, this.pos + length), this.fieldRef, isKey);
    this.pos += length;
    return this.pos - length;
  }

  private value(type: avro.Type): void {
    const t = type as avro.Type & Record<string, unknown>;
    switch (type.typeName) {
      case 'null': return;
      case 'boolean': {
        this.skip(1, 'boolean');
        const b = this.buf[this.pos - 1];
        if (b > 1) this.fail(`boolean byte is ${b}, not 0 or 1`);
        return;
      }
      case 'int': this.varint(INT_BYTES, 'int'); return;
      case 'long': this.long('long'); return;
      case 'float': this.skip(4, 'float'); return;
      case 'double': this.skip(8, 'double'); return;
      case 'fixed': this.skip(t.size as number, 'fixed'); return;
      case 'string': this.text(true); return;
      case 'bytes': this.text(false); return;
      case 'enum': this.index((t.symbols as string[]).length, 'enum index'); return;
      case 'union:wrapped': case 'union:unwrapped': {
        const branches = t.types as avro.Type[];
        this.value(branches[this.index(branches.length, 'union branch index')]);
        return;
      }
      case 'record': case 'error': this.record(t.fields as avro.types.Field[]); return;
      case 'array': this.blocks(minSize(t.itemsType as avro.Type), 'items', (i) => this.item(i, t.itemsType as avro.Type)); return;
      case 'map': this.blocks(1 + minSize(t.valuesType as avro.Type), 'entries', () => this.entry(t.valuesType as avro.Type)); return;
      default:
        if (t.underlyingType) return this.value(t.underlyingType as avro.Type);
        throw new SchemaError('INCOMPATIBLE_SCHEMA', `${this.label}: cannot check Avro type ${type.typeName}`);
    }
  }

  private record(fields: avro.types.Field[]): void {
    for (const f of fields) {
      this.path.push(f.name);
      this.shapes.push(this.shape === '' ? f.name : `${this.shape}.${f.name}`);
      this.value(f.type);
      this.shapes.pop();
      this.path.pop();
    }
  }

  private item(i: number, type: avro.Type): void {
    this.path.push(i);
    this.value(type);
    this.path.pop();
  }

  private entry(type: avro.Type): void {
    const start = this.text(true, true);
    if (this.pos - start === PROTO_KEY_BYTES) checkMapKey(this.buf.toString('latin1', start, this.pos), this.field());
    this.path.push(new MapKey(start, this.pos));
    this.value(type);
    this.path.pop();
  }

  /** Array/map blocks: each count checked against the bytes left, the running total against its limit, before any item. */
  private blocks(itemBytes: number, noun: string, visit: (i: number) => void): void {
    const minBytes = Math.max(itemBytes, 1);
    let total = 0;
    for (;;) {
      let count = this.varint(LONG_BYTES, 'block count');
      if (count === 0) return;
      let blockEnd: number | undefined;
      if (count < 0) {
        count = -count;
        const size = this.varint(LONG_BYTES, 'block byte size');
        if (size < 0 || size > this.remaining()) this.fail(`block byte size ${digits(size)} is not within the ${this.remaining()} bytes that remain`);
        blockEnd = this.pos + size;
      }
      if (count > Math.floor(this.remaining() / minBytes) || this.items + count > this.buf.length) {
        this.fail(`claims ${digits(count)} ${noun} but only ${this.remaining()} bytes remain`);
      }
      total += count;
      this.items += count;
      checkCount(total, this.fieldRef, this.shape, this.limits, 'claims');
      for (let i = 0; i < count; i++) visit(total - count + i);
      if (blockEnd !== undefined && this.pos !== blockEnd) this.fail(`a block's byte size says it ends at byte ${blockEnd}, but its items end at ${this.pos}`);
    }
  }
}

/** Throws SchemaError (BAD_AVRO, LIMIT_EXCEEDED, INVALID_UTF8) unless `body` is one well-formed value of `writer` within `limits`. */
export function guardAvroBody(writer: avro.Type, body: Buffer, limits: DecodeLimits, label: string): void {
  new Walk(body, limits, label).run(writer);
}
