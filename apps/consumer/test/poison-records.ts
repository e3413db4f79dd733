// Hand-built hostile PromptJob values, byte for byte, for the unit tests and the poison suite.
import { PromptJobSchemas, recordFromPlain, type PromptJob } from '@sluice/schema';

const HEADER = Buffer.concat([Buffer.from([0xc3, 0x01]), PromptJobSchemas.latest.fingerprint]);

/** Avro long: zig-zag, then 7-bit groups, low first. */
function varint(n: bigint): Buffer {
  let z = n >= 0n ? n << 1n : (-n << 1n) - 1n;
  const out: number[] = [];
  do {
    out.push(Number(z & 0x7fn) | (z > 0x7fn ? 0x80 : 0));
    z >>= 7n;
  } while (z > 0n);
  return Buffer.from(out);
}

const str = (s: string) => Buffer.concat([varint(BigInt(Buffer.byteLength(s))), Buffer.from(s)]);
const pad = (b: Buffer, size: number) => Buffer.concat([b, Buffer.alloc(Math.max(0, size - b.length), 0x02)]);

export const MAP_CLAIM = 2n ** 40n;
export const ARRAY_CLAIM = 2n ** 31n;

/** 59 bytes: a single-object PromptJob whose metadata map block claims 2^40 entries (avsc spun forever on it). */
export function hugeMapJob(jobId = 'poison-map'): Buffer {
  // job_id, batch_id, prompt (union branch 1), messages/model/sampling/priority null, then the metadata block count.
  const body = Buffer.concat([str(jobId), str('b1'), Buffer.from([0x02]), str('hi'), Buffer.from([0, 0, 0, 0]), varint(MAP_CLAIM)]);
  return pad(Buffer.concat([HEADER, body]), 59);
}

/** 58 bytes: a single-object PromptJob whose messages array block claims 2^31 items (avsc ran out of heap on it). */
export function hugeArrayJob(jobId = 'poison-arr'): Buffer {
  // job_id, batch_id, prompt null, messages (union branch 1), then the array block count.
  const body = Buffer.concat([str(jobId), str('b1'), Buffer.from([0x00, 0x02]), varint(ARRAY_CLAIM)]);
  return pad(Buffer.concat([HEADER, body]), 58);
}

/** A single-object job written by a careless producer, bypassing validation: `edit` may set anything avsc can write. */
export function rawJob(fields: Record<string, unknown>, edit: (job: PromptJob) => void = () => undefined): Buffer {
  const job = recordFromPlain(PromptJobSchemas, { metadata: {}, created_at: 1, ...fields });
  edit(job);
  return Buffer.concat([HEADER, PromptJobSchemas.latest.type.toBuffer(job)]);
}

/** A job whose sampling.temperature is NaN (valid Avro: a double may be NaN). */
export function nanTemperatureJob(jobId: string, batchId: string): Buffer {
  return rawJob({ job_id: jobId, batch_id: batchId, prompt: 'hi', sampling: { temperature: 0.5 } }, (j) => {
    j.sampling!.temperature = Number.NaN;
  });
}

/** A job whose prompt holds the bytes FF FE (never valid UTF-8), which avsc would have read as U+FFFD. */
export function invalidUtf8Job(jobId: string, batchId: string): Buffer {
  const marker = 'INVALID!';
  const bytes = rawJob({ job_id: jobId, batch_id: batchId, prompt: `say ${marker}` });
  const at = bytes.indexOf(marker);
  Buffer.from([0x41, 0xff, 0xfe, 0x42]).copy(bytes, at);
  return bytes;
}
