import { RecordCodec } from './codec';
import { CompletionSchemas, DeadLetterSchemas, PromptJobSchemas } from './families';
import { decodeSingleObject, encodeSingleObject } from './single-object';
import { fullCompletion, fullDeadLetter, fullPromptJob } from '../test/records';

const [v1, v2, v3] = PromptJobSchemas.versions;

const GUIDED = ['guided_json', 'guided_regex', 'guided_choice', 'guided_grammar', 'guided_json_object'] as const;

// A full job as v2 knows it: no structured-output fields in its sampling.
function v2Job() {
  const job = fullPromptJob();
  const sampling = { ...job.sampling! } as Record<string, unknown>;
  for (const k of GUIDED) delete sampling[k];
  return { ...job, sampling };
}

describe('PromptJob schema evolution', () => {
  it('gives each version its own fingerprint so readers tell them apart', () => {
    expect(v1.version).toBe(1);
    expect(v3).toBe(PromptJobSchemas.latest);
    expect(new Set([v1, v2, v3].map((v) => v.fingerprint.toString('hex'))).size).toBe(3);
  });

  it('v2 reader reads v1 records, the added field null', () => {
    const { trace_id: _dropped, ...v1Job } = v2Job();
    const bytes = encodeSingleObject(PromptJobSchemas, v1Job, v1);
    expect(bytes.subarray(2, 10)).toEqual(v1.fingerprint);
    expect(decodeSingleObject(PromptJobSchemas, bytes, v2)).toEqual({ ...v1Job, trace_id: null });
  });

  it('v1 reader reads v2 records, ignoring the field it does not know', () => {
    const job = v2Job();
    const decoded = decodeSingleObject(PromptJobSchemas, encodeSingleObject(PromptJobSchemas, job, v2), v1);
    const { trace_id: _unknownToV1, ...expected } = job;
    expect(decoded).toEqual(expected);
    expect(decoded).not.toHaveProperty('trace_id');
  });

  it('v3 reader reads v2 records, the structured-output fields null', () => {
    const job = v2Job();
    const decoded = decodeSingleObject(PromptJobSchemas, encodeSingleObject(PromptJobSchemas, job, v2), v3);
    expect(decoded).toEqual({ ...job, sampling: { ...job.sampling, ...Object.fromEntries(GUIDED.map((k) => [k, null])) } });
  });

  it('v2 reader reads v3 records, ignoring the structured-output fields', () => {
    const job = fullPromptJob();
    expect(job.sampling?.guided_choice).toEqual(['yes', 'no']);
    const decoded = decodeSingleObject(PromptJobSchemas, encodeSingleObject(PromptJobSchemas, job, v3), v2);
    expect(decoded).toEqual(v2Job());
  });

  it('the latest writer round-trips every structured-output field', () => {
    const job = fullPromptJob();
    const sampling = { ...job.sampling!, guided_json: '{"type":"object"}', guided_regex: '[a-z]+', guided_grammar: 'root ::= "a"', guided_json_object: true };
    const all = { ...job, sampling };
    expect(decodeSingleObject(PromptJobSchemas, encodeSingleObject(PromptJobSchemas, all, v3), v3)).toEqual(all);
  });

  it('a codec pinned to v1 writes v1, and the default codec reads it', async () => {
    const old = new RecordCodec(PromptJobSchemas, { writeVersion: 1 });
    const bytes = await old.encode({ ...fullPromptJob(), trace_id: undefined });
    expect(bytes.subarray(2, 10)).toEqual(v1.fingerprint);
    expect((await new RecordCodec(PromptJobSchemas).decode(bytes)).trace_id).toBeNull();
  });

  it('a codec pinned to v2 writes v2 (structured output dropped), and the default codec reads it', async () => {
    const bytes = await new RecordCodec(PromptJobSchemas, { writeVersion: 2 }).encode(fullPromptJob());
    expect(bytes.subarray(2, 10)).toEqual(v2.fingerprint);
    expect((await new RecordCodec(PromptJobSchemas).decode(bytes)).sampling?.guided_choice).toBeNull();
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
