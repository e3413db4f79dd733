import { SchemaError } from './errors';
import { BatchManifestSchemas, CompletionSchemas, DeadLetterSchemas, PromptJobSchemas } from './families';
import type { SchemaFamily } from './schema-files';
import { decodeSingleObject, encodeSingleObject } from './single-object';
import { fullBatchManifest, fullCompletion, fullDeadLetter, fullPromptJob } from '../test/records';

function fieldNames(family: SchemaFamily<unknown>): string[] {
  return (family.latest.json as { fields: Array<{ name: string }> }).fields.map((f) => f.name).sort();
}

describe('single-object encoding', () => {
  const cases: Array<[string, SchemaFamily<unknown>, () => object]> = [
    ['PromptJob', PromptJobSchemas as SchemaFamily<unknown>, fullPromptJob],
    ['Completion', CompletionSchemas as SchemaFamily<unknown>, fullCompletion],
    ['DeadLetter', DeadLetterSchemas as SchemaFamily<unknown>, fullDeadLetter],
    ['BatchManifest', BatchManifestSchemas as SchemaFamily<unknown>, fullBatchManifest],
  ];

  it.each(cases)('round-trips a fully populated %s whose TypeScript fields are exactly the schema fields', (_name, family, make) => {
    const record = make();
    expect(Object.keys(record).sort()).toEqual(fieldNames(family));
    const bytes = encodeSingleObject(family, record);
    expect(bytes.subarray(0, 2)).toEqual(Buffer.from([0xc3, 0x01]));
    expect(bytes.subarray(2, 10)).toEqual(family.latest.fingerprint);
    expect(decodeSingleObject(family, bytes)).toEqual(record);
  });

  it('round-trips a prompt job with only the required fields, filling nulls and defaults', () => {
    const bytes = encodeSingleObject(PromptJobSchemas, { job_id: 'j', batch_id: 'b', prompt: 'Hi', metadata: {}, created_at: 5 });
    expect(decodeSingleObject(PromptJobSchemas, bytes)).toEqual({
      job_id: 'j', batch_id: 'b', prompt: 'Hi', messages: null, model: null, sampling: null, priority: null, metadata: {}, created_at: 5, deadline: null, trace_id: null,
    });
  });

  it('keeps the canonical form free of docs so documentation edits never change fingerprints', () => {
    expect(PromptJobSchemas.latest.canonical).not.toContain('doc');
    expect(PromptJobSchemas.latest.canonical.startsWith('{"name":"sluice.PromptJob","type":"record","fields":[')).toBe(true);
  });

  it('rejects bytes whose fingerprint is unknown, naming the known ones', () => {
    const bytes = encodeSingleObject(PromptJobSchemas, fullPromptJob());
    bytes.fill(0xab, 2, 10);
    expect(() => decodeSingleObject(PromptJobSchemas, bytes)).toThrow(
      expect.objectContaining({ code: 'UNKNOWN_FINGERPRINT', message: expect.stringMatching(/abababababababab.*v1=.*v2=/) }),
    );
  });

  it('rejects a completion fingerprint when a prompt job is expected', () => {
    const bytes = encodeSingleObject(CompletionSchemas, fullCompletion());
    expect(() => decodeSingleObject(PromptJobSchemas, bytes)).toThrow(expect.objectContaining({ code: 'UNKNOWN_FINGERPRINT' }));
  });

  it('rejects a missing marker and a header cut short as bad framing', () => {
    expect(() => decodeSingleObject(PromptJobSchemas, Buffer.from('{"a":1}'))).toThrow(expect.objectContaining({ code: 'BAD_FRAMING' }));
    expect(() => decodeSingleObject(PromptJobSchemas, Buffer.from([0xc3, 0x01, 1, 2]))).toThrow(expect.objectContaining({ code: 'BAD_FRAMING', message: expect.stringContaining('cut short') }));
  });

  it('reports a truncated body as bad Avro', () => {
    const bytes = encodeSingleObject(PromptJobSchemas, fullPromptJob());
    expect(() => decodeSingleObject(PromptJobSchemas, bytes.subarray(0, bytes.length - 8))).toThrow(expect.objectContaining({ code: 'BAD_AVRO' }));
  });

  it('refuses to encode a value of the wrong type, naming the field', () => {
    const job = { ...fullPromptJob(), priority: 'high' as unknown as number };
    expect(() => encodeSingleObject(PromptJobSchemas, job)).toThrow(expect.objectContaining({ code: 'INVALID_FIELD', field: 'priority' }));
  });

  it('refuses to encode or decode a job that breaks a field rule', () => {
    const job = { ...fullPromptJob(), prompt: 'also a prompt' };
    expect(() => encodeSingleObject(PromptJobSchemas, job)).toThrow(SchemaError);
    const bytes = Buffer.concat([Buffer.from([0xc3, 0x01]), PromptJobSchemas.latest.fingerprint, PromptJobSchemas.latest.type.toBuffer(job)]);
    expect(() => decodeSingleObject(PromptJobSchemas, bytes)).toThrow(expect.objectContaining({ code: 'INVALID_FIELD', field: 'prompt' }));
  });
});
