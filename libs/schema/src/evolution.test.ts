import { RecordCodec } from './codec';
import { CompletionSchemas, DeadLetterSchemas, PromptJobSchemas } from './families';
import { decodeSingleObject, encodeSingleObject } from './single-object';
import { fullCompletion, fullDeadLetter, fullPromptJob } from '../test/records';

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

describe('DeadLetter schema evolution (v2 adds what was cut to fit the DLQ topic)', () => {
  const [dl1, dl2] = DeadLetterSchemas.versions;
  const v1Letter = () => {
    const { value_size: _s, value_sha256: _h, value_truncated: _v, key_truncated: _k, headers_truncated: _hd, ...letter } = fullDeadLetter();
    return letter;
  };

  it('writes v2 by default, with its own fingerprint', () => {
    expect(dl2).toBe(DeadLetterSchemas.latest);
    expect(dl1.fingerprint.equals(dl2.fingerprint)).toBe(false);
  });

  it('v2 reader reads v1 records: no size or hash, nothing cut', () => {
    const bytes = encodeSingleObject(DeadLetterSchemas, v1Letter(), dl1);
    expect(bytes.subarray(2, 10)).toEqual(dl1.fingerprint);
    expect(decodeSingleObject(DeadLetterSchemas, bytes, dl2)).toEqual({
      ...v1Letter(), value_size: null, value_sha256: null, value_truncated: false, key_truncated: false, headers_truncated: false,
    });
  });

  it('v1 reader reads v2 records, ignoring the fields it does not know', () => {
    const decoded = decodeSingleObject(DeadLetterSchemas, encodeSingleObject(DeadLetterSchemas, fullDeadLetter(), dl2), dl1);
    expect(decoded).toEqual(v1Letter());
  });

  it('a v2 writer given a v1-shaped letter fills the defaults', async () => {
    const codec = new RecordCodec(DeadLetterSchemas);
    const decoded = await codec.decode(await codec.encode(v1Letter()));
    expect(decoded).toMatchObject({ value_size: null, value_sha256: null, value_truncated: false, key_truncated: false, headers_truncated: false });
  });
});

describe('Completion schema evolution (v2 adds usage.cached_tokens)', () => {
  const [c1, c2] = CompletionSchemas.versions;
  const v1Completion = () => {
    const c = fullCompletion();
    const { cached_tokens: _cached, ...usage } = c.usage;
    return { ...c, usage };
  };

  it('writes v2 by default, with its own fingerprint', () => {
    expect(c2).toBe(CompletionSchemas.latest);
    expect(c1.fingerprint.equals(c2.fingerprint)).toBe(false);
  });

  it('v2 reader reads v1 records: cached_tokens null (not known), not 0', () => {
    const bytes = encodeSingleObject(CompletionSchemas, v1Completion(), c1);
    expect(bytes.subarray(2, 10)).toEqual(c1.fingerprint);
    const c = v1Completion();
    expect(decodeSingleObject(CompletionSchemas, bytes, c2)).toEqual({ ...c, usage: { ...c.usage, cached_tokens: null } });
  });

  it('v1 reader reads v2 records, ignoring the field it does not know', () => {
    const decoded = decodeSingleObject(CompletionSchemas, encodeSingleObject(CompletionSchemas, fullCompletion(), c2), c1);
    expect(decoded).toEqual(v1Completion());
  });
});
