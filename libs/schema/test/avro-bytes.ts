// Hand-built Avro bytes for decoder tests: what a hostile or broken producer can write and avsc's encoder never would.
import { PromptJobSchemas } from '../src/families';
import type { SchemaVersion } from '../src/schema-files';

/** A zigzag varint, exactly as Avro writes int and long (any 64-bit value). */
export function zigzag(value: bigint | number): Buffer {
  const n = BigInt(value);
  let raw = n >= 0n ? n << 1n : (-n << 1n) - 1n;
  const out: number[] = [];
  while (raw >= 0x80n) {
    out.push(Number(raw & 0x7fn) | 0x80);
    raw >>= 7n;
  }
  out.push(Number(raw));
  return Buffer.from(out);
}

/** An Avro string/bytes: its length, then its bytes (given as text or raw bytes, which may be invalid UTF-8). */
export function avroText(value: string | Buffer | number[]): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
  return Buffer.concat([zigzag(bytes.length), bytes]);
}

/** Single-object framing around a hand-built body: C3 01, the version's fingerprint, the body. */
export function singleObject(body: Buffer[], version: SchemaVersion = PromptJobSchemas.latest): Buffer {
  return Buffer.concat([Buffer.from([0xc3, 0x01]), version.fingerprint, ...body]);
}

const NULL_BRANCH = zigzag(0);
const SOME_BRANCH = zigzag(1);

/** The fields of a PromptJob v2 body, in schema order, each given as its encoded bytes. */
export interface JobBody {
  job_id: Buffer;
  batch_id: Buffer;
  prompt: Buffer;
  messages: Buffer;
  model: Buffer;
  sampling: Buffer;
  priority: Buffer;
  metadata: Buffer;
  created_at: Buffer;
  deadline: Buffer;
  trace_id: Buffer;
}

/** A valid minimal job (prompt "hi", empty metadata) with any field's bytes replaced. */
export function jobBody(over: Partial<JobBody> = {}): Buffer[] {
  const body: JobBody = {
    job_id: avroText('job-1'),
    batch_id: avroText('batch-1'),
    prompt: Buffer.concat([SOME_BRANCH, avroText('hi')]),
    messages: NULL_BRANCH,
    model: NULL_BRANCH,
    sampling: NULL_BRANCH,
    priority: NULL_BRANCH,
    metadata: zigzag(0),
    created_at: zigzag(1_764_000_000_000),
    deadline: NULL_BRANCH,
    trace_id: NULL_BRANCH,
    ...over,
  };
  return Object.values(body);
}

/** A nullable field holding a value: the union's second branch, then the value's bytes. */
export function some(...value: Buffer[]): Buffer {
  return Buffer.concat([SOME_BRANCH, ...value]);
}
