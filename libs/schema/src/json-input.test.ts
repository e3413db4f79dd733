import { RecordCodec, recordFromJsonText, recordFromPlain } from './codec';
import { SchemaError } from './errors';
import { CompletionSchemas, PromptJobSchemas } from './families';
import { recordToJson } from './json-record';
import { DeadLetterSchemas } from './families';
import { fullCompletion, fullDeadLetter, fullPromptJob } from '../test/records';

const codec = new RecordCodec(PromptJobSchemas);

function rejection(value: unknown): SchemaError {
  try {
    recordFromPlain(PromptJobSchemas, value);
  } catch (err) {
    if (err instanceof SchemaError) return err;
    throw err;
  }
  throw new Error('expected a SchemaError');
}

const base = { job_id: 'j1', batch_id: 'b1', prompt: 'Say hi' };

describe('plain JSON jobs', () => {
  it('decodes a minimal JSON job, filling defaults and created_at', async () => {
    const before = Date.now();
    const job = await codec.decode(Buffer.from(`  \n${JSON.stringify(base)}`));
    expect(job).toMatchObject({ ...base, messages: null, sampling: null, metadata: {}, deadline: null, trace_id: null });
    expect(job.created_at).toBeGreaterThanOrEqual(before);
  });

  it('accepts chat messages, sampling params and ISO-8601 timestamps', async () => {
    const job = await codec.decode(
      Buffer.from(JSON.stringify({
        job_id: 'j2', batch_id: 'b1', messages: [{ role: 'user', content: 'Hi' }],
        sampling: { temperature: 0, max_tokens: 8, stop: ['.'], early_stopping: true },
        created_at: '2026-01-02T03:04:05.000Z', deadline: 1_800_000_000_000, metadata: { k: 'v' },
      })),
    );
    expect(job.messages).toEqual([{ role: 'user', content: 'Hi', name: null }]);
    expect(job.sampling).toMatchObject({ temperature: 0, max_tokens: 8, stop: ['.'], early_stopping: true, top_p: null });
    expect(job.created_at).toBe(Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(job.deadline).toBe(1_800_000_000_000);
  });

  it('reads back what recordToJson writes, bytes included', () => {
    const letter = fullDeadLetter();
    expect(recordFromJsonText(DeadLetterSchemas, recordToJson(letter))).toEqual(letter);
    expect(recordFromJsonText(CompletionSchemas, recordToJson(fullCompletion()))).toEqual(fullCompletion());
    expect(recordFromJsonText(PromptJobSchemas, recordToJson(fullPromptJob()))).toEqual(fullPromptJob());
  });

  it.each([
    [{ batch_id: 'b1', prompt: 'x' }, 'job_id', "field 'job_id' is required"],
    [{ ...base, job_id: 7 }, 'job_id', "field 'job_id': expected a string, got number 7"],
    [{ ...base, sampling: { temperature: 'hot' } }, 'sampling.temperature', "field 'sampling.temperature': expected a finite number, got string \"hot\""],
    [{ ...base, sampling: { temprature: 1 } }, 'sampling.temprature', "field 'sampling.temprature' is not part of SamplingParams"],
    [{ ...base, sampling: { max_tokens: 1.5 } }, 'sampling.max_tokens', 'expected an integer (int32), got number 1.5'],
    [{ ...base, sampling: { top_p: 0 } }, 'sampling.top_p', "field 'sampling.top_p' must be > 0, got 0"],
    [{ ...base, sampling: { n: 3, best_of: 2 } }, 'sampling.best_of', 'must be >= n (3), got 2'],
    [{ ...base, sampling: { stop: ['ok', 5] } }, 'sampling.stop[1]', 'expected a string, got number 5'],
    [{ ...base, sampling: { early_stopping: 'sometimes' } }, 'sampling.early_stopping', 'must be true, false or "never"'],
    [{ ...base, messages: [{ role: 'user', content: 'a' }] }, 'prompt', 'and messages are both set'],
    [{ job_id: 'j', batch_id: 'b' }, 'prompt', 'or messages is required'],
    [{ job_id: 'j', batch_id: 'b', messages: [{ role: 'user', content: 'a' }, { content: 'b' }] }, 'messages[1].role', "field 'messages[1].role' is required"],
    [{ ...base, batch_id: '../etc' }, 'batch_id', 'must be 1-128 letters, digits'],
    [{ ...base, metadata: { n: 1 } }, 'metadata.n', 'expected a string, got number 1'],
    [{ ...base, created_at: 'yesterday' }, 'created_at', 'expected milliseconds since the epoch or an ISO-8601 date-time'],
    [{ ...base, trace_id: 'xyz' }, 'trace_id', 'must be 32 lowercase hex characters'],
  ])('rejects %j naming %s', (value, field, message) => {
    const err = rejection(value);
    expect(err.code).toBe('INVALID_FIELD');
    expect(err.field).toBe(field);
    expect(err.message).toContain(message);
  });

  it('rejects text that is not JSON and a JSON array', async () => {
    await expect(codec.decode(Buffer.from('{"job_id": '))).rejects.toMatchObject({ code: 'BAD_JSON' });
    expect(rejection([base]).message).toContain('the record: expected an object (PromptJob), got an array');
  });

  it('rejects JSON when the codec is told not to accept it', async () => {
    const strict = new RecordCodec(PromptJobSchemas, { acceptJson: false });
    await expect(strict.decode(Buffer.from(JSON.stringify(base)))).rejects.toMatchObject({ code: 'BAD_FRAMING' });
  });

  it('rejects bytes of no known format, naming the first bytes', async () => {
    await expect(codec.decode(Buffer.from([0xff, 0xfe, 0x01]))).rejects.toMatchObject({ code: 'BAD_FRAMING', message: expect.stringContaining('0xfffe') });
    await expect(codec.decode(Buffer.alloc(0))).rejects.toMatchObject({ code: 'BAD_FRAMING', message: expect.stringContaining('no bytes') });
  });
});

describe('JSON records: bytes before text', () => {
  it.each([
    ['invalid UTF-8', [0xff]],
    ['an encoded surrogate', [0xed, 0xa0, 0x80]],
  ])('rejects %s in the JSON bytes with INVALID_UTF8 instead of decoding it to U+FFFD', async (_, bad) => {
    const bytes = Buffer.concat([Buffer.from('{"job_id":"j1","batch_id":"b1","prompt":"a'), Buffer.from(bad), Buffer.from('"}')]);
    await expect(codec.decode(bytes)).rejects.toMatchObject({ code: 'INVALID_UTF8', message: 'the record is not valid UTF-8' });
  });
});
