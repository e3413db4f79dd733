import { RecordCodec } from './codec';
import { PromptJobSchemas } from './families';
import { decodeSingleObject, encodeSingleObject } from './single-object';
import { fullPromptJob } from '../test/records';

const [v1, v2] = PromptJobSchemas.versions;

describe('PromptJob schema evolution', () => {
  it('gives each version its own fingerprint so readers tell them apart', () => {
    expect(v1.version).toBe(1);
    expect(v2).toBe(PromptJobSchemas.latest);
    expect(v1.fingerprint.equals(v2.fingerprint)).toBe(false);
  });

  it('v2 reader reads v1 records, the added field null', () => {
    const { trace_id: _dropped, ...v1Job } = fullPromptJob();
    const bytes = encodeSingleObject(PromptJobSchemas, v1Job, v1);
    expect(bytes.subarray(2, 10)).toEqual(v1.fingerprint);
    expect(decodeSingleObject(PromptJobSchemas, bytes, v2)).toEqual({ ...v1Job, trace_id: null });
  });

  it('v1 reader reads v2 records, ignoring the field it does not know', () => {
    const job = fullPromptJob();
    const decoded = decodeSingleObject(PromptJobSchemas, encodeSingleObject(PromptJobSchemas, job, v2), v1);
    const { trace_id: _unknownToV1, ...expected } = job;
    expect(decoded).toEqual(expected);
    expect(decoded).not.toHaveProperty('trace_id');
  });

  it('a codec pinned to v1 writes v1, and the default codec reads it', async () => {
    const old = new RecordCodec(PromptJobSchemas, { writeVersion: 1 });
    const bytes = await old.encode({ ...fullPromptJob(), trace_id: undefined });
    expect(bytes.subarray(2, 10)).toEqual(v1.fingerprint);
    expect((await new RecordCodec(PromptJobSchemas).decode(bytes)).trace_id).toBeNull();
  });

  it('refuses a write version that does not exist', () => {
    expect(() => new RecordCodec(PromptJobSchemas, { writeVersion: 7 })).toThrow(/PromptJob has no schema version 7/);
  });
});
