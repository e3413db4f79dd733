import { writeBody } from './avro-body';
import { RecordCodec, recordFromJsonText, recordFromPlain } from './codec';
import { SchemaError } from './errors';
import { PromptJobSchemas } from './families';
import { validatePromptJob, validateSamplingParams } from './prompt-job-rules';
import { encodeSingleObject } from './single-object';
import type { PromptJob, SamplingParams } from './types';
import { fullPromptJob } from '../test/records';

function thrown(fn: () => unknown): SchemaError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SchemaError) return err;
    throw err;
  }
  throw new Error('expected a SchemaError');
}

const LONE = '\ud800';

describe('sampling values that are not finite numbers', () => {
  const doubles: Array<keyof SamplingParams> = ['temperature', 'top_p', 'min_p', 'presence_penalty', 'frequency_penalty', 'repetition_penalty', 'length_penalty'];
  it.each([NaN, Infinity, -Infinity])('rejects %s in every double parameter, naming the real value', (value) => {
    for (const key of doubles) {
      const err = thrown(() => validateSamplingParams({ [key]: value }));
      expect(err).toMatchObject({ code: 'INVALID_FIELD', field: `sampling.${key}`, message: `field 'sampling.${key}' must be a finite number, got ${value}` });
    }
  });

  it('refuses to encode a job with a NaN temperature, and rejects one decoded from Avro', async () => {
    const job = { ...fullPromptJob(), sampling: { ...fullPromptJob().sampling, temperature: NaN } };
    expect(thrown(() => encodeSingleObject(PromptJobSchemas, job)).message).toContain('got NaN');
    // A producer that skips validation can still write the double NaN.
    const body = PromptJobSchemas.latest.type.toBuffer(job);
    const bytes = Buffer.concat([Buffer.from([0xc3, 0x01]), PromptJobSchemas.latest.fingerprint, body]);
    await expect(new RecordCodec(PromptJobSchemas).decode(bytes)).rejects.toMatchObject({ field: 'sampling.temperature', message: expect.stringContaining('got NaN') });
  });

  it('never says "got null" for NaN when the Avro writer refuses a value', () => {
    const err = thrown(() => writeBody(PromptJobSchemas.latest.type, { ...fullPromptJob(), priority: NaN }));
    expect(err).toMatchObject({ code: 'INVALID_FIELD', field: 'priority' });
    expect(err.message).toContain('number NaN');
  });

  it('names the value in JSON type errors too', () => {
    expect(thrown(() => recordFromPlain(PromptJobSchemas, { job_id: 'j', batch_id: 'b', prompt: 'p', priority: Infinity })).message).toContain('got number Infinity');
  });
});

describe('messages quoting a bad value', () => {
  it('quote at most 40 characters of it, however long the field', () => {
    const err = thrown(() => validatePromptJob({ ...fullPromptJob(), batch_id: `/${'x'.repeat(100_000)}` }));
    expect(err).toMatchObject({ code: 'INVALID_FIELD', field: 'batch_id' });
    expect(err.message.length).toBeLessThan(200);
    expect(err.message).toContain(`got "/${'x'.repeat(39)}..."`);
  });

  it('cut long map keys and unknown field names in field paths', () => {
    const key = 'k'.repeat(100_000);
    const unknown = thrown(() => recordFromPlain(PromptJobSchemas, { job_id: 'j', batch_id: 'b', prompt: 'p', [key]: 1 }));
    expect(unknown.field).toBe(`${'k'.repeat(40)}...`);
    expect(unknown.message.length).toBeLessThan(400);
    const value = thrown(() => recordFromPlain(PromptJobSchemas, { job_id: 'j', batch_id: 'b', prompt: 'p', metadata: { [key]: 7 } }));
    expect(value).toMatchObject({ code: 'INVALID_FIELD', field: `metadata.${'k'.repeat(40)}...` });
  });
});

describe('text fields with lone surrogates', () => {
  const cases: Array<[string, (job: PromptJob) => void]> = [
    ['job_id', (j) => (j.job_id = `job${LONE}`)],
    ['batch_id', (j) => (j.batch_id = `b${LONE}`)],
    ['messages[1].role', (j) => (j.messages![1].role = LONE)],
    ['messages[1].content', (j) => (j.messages![1].content = `hi ${LONE}`)],
    ['messages[1].name', (j) => (j.messages![1].name = `\udc00x`)],
    ['sampling.stop[1]', (j) => (j.sampling!.stop![1] = `END${LONE}`)],
    ['model', (j) => (j.model = LONE)],
    ['metadata', (j) => (j.metadata[`k${LONE}`] = 'v')],
    ['metadata.customer', (j) => (j.metadata.customer = `acme${LONE}`)],
  ];
  it.each(cases)('%s: validatePromptJob and encode refuse it with INVALID_UTF8 (avsc would write U+FFFD)', (field, spoil) => {
    const job = fullPromptJob();
    spoil(job);
    expect(thrown(() => validatePromptJob(job))).toMatchObject({ code: 'INVALID_UTF8', field });
    expect(thrown(() => encodeSingleObject(PromptJobSchemas, job))).toMatchObject({ code: 'INVALID_UTF8', field });
  });

  it('checks the prompt, and accepts well-formed surrogate pairs', () => {
    const job: PromptJob = { ...fullPromptJob(), messages: null, prompt: `a${LONE}b` };
    expect(thrown(() => validatePromptJob(job))).toMatchObject({ code: 'INVALID_UTF8', field: 'prompt', message: "field 'prompt' holds a lone surrogate (UTF-16 index 1), which UTF-8 cannot carry" });
    expect(() => validatePromptJob({ ...job, prompt: 'clef 𝄞 \ud834\udd1e' })).not.toThrow();
  });

  it('rejects JSON escapes that decode to a lone surrogate, in any string field', () => {
    const text = (fields: string) => `{"job_id":"j1","batch_id":"b1",${fields}}`;
    expect(thrown(() => recordFromJsonText(PromptJobSchemas, text('"prompt":"x\\ud800y"')))).toMatchObject({ code: 'INVALID_UTF8', field: 'prompt' });
    expect(thrown(() => recordFromJsonText(PromptJobSchemas, text('"prompt":"x","trace_id":"\\udfff"')))).toMatchObject({ code: 'INVALID_UTF8', field: 'trace_id' });
    expect(thrown(() => recordFromJsonText(PromptJobSchemas, text('"prompt":"x","metadata":{"\\ud800":"v"}')))).toMatchObject({ code: 'INVALID_UTF8', field: 'metadata' });
    expect(recordFromJsonText(PromptJobSchemas, text('"prompt":"\\ud83d\\ude00"')).prompt).toBe('😀');
  });
});
