import { PromptJobSchemas, RecordCodec, SchemaError } from '@sluice/schema';
import { hugeArrayJob, hugeMapJob, invalidUtf8Job, nanTemperatureJob } from '../../test/poison-records';
import { classify, deadLetterCodeOf, type ClassifyLimits } from './classify';
import { DecodeThreadError, RemoteDecodeError } from './decode-thread';

const limits: ClassifyLimits = { maxMessageBytes: 1000, maxPromptBytes: 100, model: 'tiny', now: 1_000_000 };
const codec = new RecordCodec(PromptJobSchemas);
const decode = (b: Buffer) => codec.decode(b);
const job = (o: Record<string, unknown>) => Buffer.from(JSON.stringify({ job_id: 'j1', batch_id: 'b1', prompt: 'hi', metadata: {}, created_at: 1, ...o }));

describe('classify', () => {
  it('runs a valid job, JSON or single-object Avro', async () => {
    expect(await classify(job({ sampling: { n: 2, temperature: 0.5, max_tokens: 8, stop: ['\n'] } }), limits, decode)).toMatchObject({ kind: 'run', job: { job_id: 'j1', batch_id: 'b1', prompt: 'hi' } });
    const avro = await codec.encode({ job_id: 'j2', batch_id: 'b1', prompt: 'hey', metadata: { a: 'b' }, created_at: 5 });
    expect(await classify(avro, limits, decode)).toMatchObject({ kind: 'run', job: { job_id: 'j2', metadata: { a: 'b' } } });
  });

  it.each([
    ['empty bytes', Buffer.alloc(0), 'UNDECODABLE'],
    ['binary garbage', Buffer.from([0xff, 0x00, 0x12]), 'UNDECODABLE'],
    ['broken JSON', Buffer.from('{"job_id":'), 'UNDECODABLE'],
    ['a truncated Avro record', Buffer.from([0xc3, 0x01, 1, 2]), 'UNDECODABLE'],
    ['missing batch_id', Buffer.from(JSON.stringify({ job_id: 'j', prompt: 'x' })), 'SCHEMA_VIOLATION'],
    ['neither prompt nor messages', Buffer.from(JSON.stringify({ job_id: 'j', batch_id: 'b' })), 'SCHEMA_VIOLATION'],
    ['an unknown field', job({ colour: 'red' }), 'SCHEMA_VIOLATION'],
  ])('dead-letters %s', async (_name, bytes, code) => {
    const v = await classify(bytes, limits, decode);
    expect(v).toMatchObject({ kind: 'dead-letter', code });
    expect((v as { message: string }).message.length).toBeGreaterThan(0);
  });

  it.each([
    [{ temperature: -1 }, /sampling.temperature/],
    [{ top_p: 0 }, /sampling.top_p/],
    [{ n: 4, best_of: 2 }, /sampling.best_of/],
    [{ max_tokens: 4, min_tokens: 5 }, /sampling.min_tokens/],
  ])('dead-letters invalid sampling %j with the reason', async (sampling, message) => {
    const v = await classify(job({ sampling }), limits, decode);
    expect(v).toMatchObject({ kind: 'dead-letter', code: 'INVALID_SAMPLING' });
    expect((v as { message: string }).message).toMatch(message);
  });

  it('dead-letters an oversized prompt, counting chat message contents, and keeps the ids', async () => {
    expect(await classify(job({ prompt: 'x'.repeat(101) }), limits, decode)).toMatchObject({ kind: 'dead-letter', code: 'PROMPT_TOO_LARGE', job_id: 'j1', batch_id: 'b1' });
    const messages = [{ role: 'user', content: 'y'.repeat(60) }, { role: 'user', content: 'z'.repeat(60) }];
    expect(await classify(job({ prompt: null, messages }), limits, decode)).toMatchObject({ kind: 'dead-letter', code: 'PROMPT_TOO_LARGE' });
  });

  it('answers a passed deadline and a foreign model with an error completion', async () => {
    expect(await classify(job({ deadline: limits.now - 1 }), limits, decode)).toMatchObject({ kind: 'error-completion', code: 'DEADLINE_EXCEEDED' });
    expect(await classify(job({ deadline: limits.now + 1 }), limits, decode)).toMatchObject({ kind: 'run' });
    expect(await classify(job({ model: 'other' }), limits, decode)).toMatchObject({ kind: 'error-completion', code: 'MODEL_MISMATCH' });
  });

  it('dead-letters a value over maxMessageBytes before decoding it', async () => {
    const decodeSpy = jest.fn(decode);
    const v = await classify(Buffer.alloc(1001, 0x20), limits, decodeSpy);
    expect(v).toMatchObject({ kind: 'dead-letter', code: 'MESSAGE_TOO_LARGE', message: expect.stringMatching(/1001 bytes, over the limit of 1000/) });
    expect(decodeSpy).not.toHaveBeenCalled();
    expect(await classify(job({ prompt: 'y'.repeat(90) }), limits, decode)).toMatchObject({ kind: 'run' });
  });

  it.each([
    ['a metadata map claiming 2^40 entries', hugeMapJob(), 'UNDECODABLE', /1099511627776/],
    ['a messages array claiming 2^31 items', hugeArrayJob(), 'UNDECODABLE', /2147483648/],
    ['invalid UTF-8 in the prompt', invalidUtf8Job('j', 'b'), 'INVALID_UTF8', /prompt/],
    ['a NaN temperature', nanTemperatureJob('j', 'b'), 'INVALID_SAMPLING', /sampling\.temperature.*NaN/],
    ['more metadata entries than the limit', job({ metadata: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, 'v'])) }), 'LIMIT_EXCEEDED', /metadata.*300.*maxMetadataEntries/],
  ])('dead-letters %s with a reason naming the real problem', async (_name, bytes, code, reason) => {
    const v = await classify(bytes, { ...limits, maxMessageBytes: 1 << 20 }, decode);
    expect(v).toMatchObject({ kind: 'dead-letter', code });
    expect((v as { message: string }).message).toMatch(reason);
  });

  it.each([
    [new SchemaError('INVALID_UTF8', 'x', 'job_id'), 'INVALID_UTF8'],
    [new SchemaError('LIMIT_EXCEEDED', 'x', 'sampling.stop'), 'LIMIT_EXCEEDED'],
    [new SchemaError('LIMIT_EXCEEDED', 'x', 'prompt'), 'PROMPT_TOO_LARGE'],
    [new SchemaError('LIMIT_EXCEEDED', 'x', 'messages[3].content'), 'PROMPT_TOO_LARGE'],
    [new SchemaError('BAD_AVRO', 'x'), 'UNDECODABLE'],
    [new DecodeThreadError('DECODE_TIMEOUT', 'x'), 'DECODE_TIMEOUT'],
    [new DecodeThreadError('DECODE_CRASHED', 'x'), 'UNDECODABLE'],
    [new RemoteDecodeError('RangeError', 'Invalid array length'), 'UNDECODABLE'],
    [new TypeError('a library bug'), 'UNDECODABLE'],
  ])('maps the decode failure %p to %s', (err, code) => {
    expect(deadLetterCodeOf(err)).toBe(code);
  });

  it("dead-letters whatever else a decoder throws (a library's bug) with what it threw, and the decode budget running out", async () => {
    const bug = await classify(job({}), limits, () => Promise.reject(new RemoteDecodeError('RangeError', 'Invalid array length')));
    expect(bug).toMatchObject({ kind: 'dead-letter', code: 'UNDECODABLE', message: 'the decoder failed on this record: RangeError: Invalid array length' });
    const slow = await classify(job({}), limits, () => Promise.reject(new DecodeThreadError('DECODE_TIMEOUT', 'decoding took longer than 2000 ms')));
    expect(slow).toMatchObject({ kind: 'dead-letter', code: 'DECODE_TIMEOUT', message: expect.stringMatching(/2000 ms/) });
  });

  it('lets a decode thread that is down through (retried), never dead-letters it', async () => {
    expect(deadLetterCodeOf(new DecodeThreadError('DECODE_UNAVAILABLE', 'closed'))).toBeUndefined();
    await expect(classify(job({}), limits, () => Promise.reject(new DecodeThreadError('DECODE_UNAVAILABLE', 'closed')))).rejects.toThrow('closed');
  });

  it('lets a registry failure through (retried), never dead-letters it', async () => {
    expect(deadLetterCodeOf(new SchemaError('REGISTRY_ERROR', 'down'))).toBeUndefined();
    await expect(classify(job({}), limits, () => Promise.reject(new SchemaError('REGISTRY_ERROR', 'registry down')))).rejects.toThrow('registry down');
  });

  it("decides retry or dead letter from the error's retriable flag, not its code", () => {
    const flagged = <E extends Error>(err: E, retriable: boolean): E => Object.defineProperty(err, 'retriable', { value: retriable });
    expect(deadLetterCodeOf(flagged(new SchemaError('INVALID_FIELD', 'bad', 'prompt'), true))).toBeUndefined();
    expect(deadLetterCodeOf(flagged(new DecodeThreadError('DECODE_TIMEOUT', 'slow'), true))).toBeUndefined();
    expect(deadLetterCodeOf(flagged(new SchemaError('REGISTRY_ERROR', 'down'), false))).toBe('UNDECODABLE');
    expect(deadLetterCodeOf(flagged(new DecodeThreadError('DECODE_UNAVAILABLE', 'closed'), false))).toBe('UNDECODABLE');
  });

  it('never retries an error from outside the schema library and the consumer, whatever flag it carries', () => {
    const foreign = Object.assign(new Error('a decoder bug'), { retriable: true });
    expect(deadLetterCodeOf(foreign)).toBe('UNDECODABLE');
  });
});
