import * as avro from 'avsc';
import { readBody } from './avro-body';
import { guardAvroBody } from './avro-guard';
import { RecordCodec } from './codec';
import { DEFAULT_DECODE_LIMITS } from './decode-limits';
import { SchemaError } from './errors';
import { PromptJobSchemas } from './families';
import { validatePromptJob } from './prompt-job-rules';
import type { SchemaRegistryClient } from './registry-client';
import type { PromptJob } from './types';
import { frameConfluent } from './confluent-framing';
import { avroText, jobBody, singleObject, some, zigzag } from '../test/avro-bytes';

const codec = new RecordCodec(PromptJobSchemas);

async function rejection(bytes: Buffer, decoder: { decode(b: Buffer): Promise<unknown> } = codec): Promise<SchemaError> {
  const err = await decoder.decode(bytes).then(
    () => new Error('decoded, but a SchemaError was expected'),
    (e: unknown) => e,
  );
  if (err instanceof SchemaError) return err;
  throw err;
}

/** A registry that knows one schema id: the latest PromptJob schema. */
const registry = { schemaById: async () => JSON.stringify(PromptJobSchemas.latest.json) } as unknown as SchemaRegistryClient;
const framedCodec = new RecordCodec(PromptJobSchemas, { registry, subject: 'sluice.jobs-value' });

// The two poison records: a few dozen bytes whose block counts claim 2^40 map entries and 2^31 array items.
const metadataBomb = jobBody({ metadata: Buffer.concat([zigzag(2n ** 40n), avroText('k'), avroText('v')]) });
// The body ends after the first message: avsc read the missing ones past the end as empty messages until out of heap.
const messagesBomb = [avroText('job-1'), avroText('batch-1'), zigzag(0), some(zigzag(2n ** 31n), avroText('user'), avroText('hi'), zigzag(0))];

describe('Avro guard: poison records', () => {
  it('rejects a map block claiming 2^40 entries at once, naming the field and the bytes left', async () => {
    const bytes = singleObject(metadataBomb);
    expect(bytes.length).toBeLessThan(60);
    const err = await rejection(bytes);
    expect(err).toMatchObject({ code: 'BAD_AVRO', field: 'metadata' });
    expect(err.message).toMatch(/field 'metadata': claims 1099511627776 entries but only \d+ bytes remain/);
  });

  it('rejects an array block claiming 2^31 items without allocating them', async () => {
    const err = await rejection(singleObject(messagesBomb));
    expect(err).toMatchObject({ code: 'BAD_AVRO', field: 'messages' });
    expect(err.message).toMatch(/claims 2147483648 items but only \d+ bytes remain/);
  });

  it('guards the Confluent path the same way', async () => {
    expect(await rejection(frameConfluent(7, Buffer.concat(metadataBomb)), framedCodec)).toMatchObject({ code: 'BAD_AVRO', field: 'metadata' });
    expect(await rejection(frameConfluent(7, Buffer.concat(messagesBomb)), framedCodec)).toMatchObject({ code: 'BAD_AVRO', field: 'messages' });
  });

  it('rejects a negative block count (which carries a byte size) past the bytes present', async () => {
    const forged = jobBody({ metadata: Buffer.concat([zigzag(-(2n ** 40n)), zigzag(4), avroText('k'), avroText('v'), zigzag(0)]) });
    expect(await rejection(singleObject(forged))).toMatchObject({ code: 'BAD_AVRO', field: 'metadata' });
  });

  it('names the claimed count even when it is past 2^53', async () => {
    const err = await rejection(singleObject(jobBody({ metadata: Buffer.concat([zigzag(2n ** 60n), avroText('k'), avroText('v')]) })));
    expect(err).toMatchObject({ code: 'BAD_AVRO', field: 'metadata', message: expect.stringContaining('claims 1152921504606846976 entries') });
  });

  it('reads a well-formed negative-count block and checks its byte size', async () => {
    const entry = Buffer.concat([avroText('k'), avroText('v')]);
    const good = jobBody({ metadata: Buffer.concat([zigzag(-1), zigzag(entry.length), entry, zigzag(0)]) });
    expect((await codec.decode(singleObject(good))).metadata).toEqual({ k: 'v' });
    const lying = jobBody({ metadata: Buffer.concat([zigzag(-1), zigzag(entry.length + 1), entry, zigzag(0)]) });
    expect(await rejection(singleObject(lying))).toMatchObject({ code: 'BAD_AVRO', field: 'metadata' });
  });

  it('counts zero-byte items against the bytes present, so a forged count of nulls cannot allocate', () => {
    const nulls = avro.Type.forSchema({ type: 'array', items: 'null' });
    expect(() => guardAvroBody(nulls, Buffer.concat([zigzag(2n ** 40n), zigzag(0)]), DEFAULT_DECODE_LIMITS, 'nulls')).toThrow(/claims 1099511627776 items/);
    expect(() => guardAvroBody(nulls, Buffer.concat([zigzag(1), zigzag(0)]), DEFAULT_DECODE_LIMITS, 'nulls')).not.toThrow();
    // Each block alone fits the bytes after it; all blocks together claim 5 items in a 4-byte body.
    const manyBlocks = Buffer.concat([zigzag(3), zigzag(1), zigzag(1), zigzag(0)]);
    expect(() => guardAvroBody(nulls, manyBlocks, DEFAULT_DECODE_LIMITS, 'nulls')).toThrow(/claims 1 items but only 1 bytes remain/);
  });

  it('turns a writer schema nested deeper than the stack into BAD_AVRO, not a RangeError', () => {
    const list = avro.Type.forSchema({ type: 'record', name: 'Node', fields: [{ name: 'next', type: ['null', 'Node'] }] });
    const deep = Buffer.concat([Buffer.alloc(1_000_000, 0x02), zigzag(0)]);
    expect(() => readBody(list, list, deep, 'Node', DEFAULT_DECODE_LIMITS)).toThrow(expect.objectContaining({ code: 'BAD_AVRO' }));
  });
});

describe('Avro guard: malformed values', () => {
  it('rejects a string whose length runs past the body, or is negative', async () => {
    const past = await rejection(singleObject(jobBody({ prompt: some(zigzag(1000), Buffer.from('hi')) })));
    expect(past).toMatchObject({ code: 'BAD_AVRO', field: 'prompt' });
    expect(past.message).toMatch(/string length claims 1000 bytes but only \d+ remain/);
    expect(await rejection(singleObject(jobBody({ job_id: zigzag(-3) })))).toMatchObject({ code: 'BAD_AVRO', field: 'job_id', message: expect.stringContaining('negative') });
  });

  it('rejects varints longer than 10 bytes, past 64 bits, or an int past 32 bits', async () => {
    const tooLong = Buffer.from([...Array(10).fill(0x80), 0x01]);
    expect(await rejection(singleObject(jobBody({ created_at: tooLong })))).toMatchObject({ code: 'BAD_AVRO', field: 'created_at', message: expect.stringContaining('runs past 10 bytes') });
    const over64 = Buffer.from([...Array(9).fill(0xff), 0x02]);
    expect(await rejection(singleObject(jobBody({ created_at: over64 })))).toMatchObject({ code: 'BAD_AVRO', message: expect.stringContaining('overflows 64 bits') });
    const over32 = some(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x1f]));
    expect(await rejection(singleObject(jobBody({ priority: over32 })))).toMatchObject({ code: 'BAD_AVRO', field: 'priority', message: expect.stringContaining('overflows 32 bits') });
  });

  it('rejects a long that a JavaScript number cannot hold exactly (avsc\'s bound, 2^53 - 2)', async () => {
    const max = 2 ** 53 - 2;
    expect((await codec.decode(singleObject(jobBody({ created_at: zigzag(max) })))).created_at).toBe(max);
    const err = await rejection(singleObject(jobBody({ created_at: zigzag(max + 1) })));
    expect(err).toMatchObject({ code: 'BAD_AVRO', field: 'created_at', message: expect.stringContaining('cannot hold exactly') });
    expect(await rejection(singleObject(jobBody({ created_at: zigzag(-(2n ** 60n)) })))).toMatchObject({ code: 'BAD_AVRO', field: 'created_at' });
  });

  it('rejects union indexes out of range, a boolean byte other than 0/1, and trailing bytes', async () => {
    expect(await rejection(singleObject(jobBody({ prompt: zigzag(2) })))).toMatchObject({ code: 'BAD_AVRO', field: 'prompt', message: expect.stringContaining('union branch index 2 is out of range') });
    expect(await rejection(singleObject(jobBody({ model: zigzag(-1) })))).toMatchObject({ code: 'BAD_AVRO', field: 'model' });
    const sampling = Array.from({ length: 23 }, (_, i) => (i === 13 ? some(Buffer.from([2])) : zigzag(0)));
    expect(await rejection(singleObject(jobBody({ sampling: some(...sampling) })))).toMatchObject({ code: 'BAD_AVRO', field: 'sampling.ignore_eos' });
    expect(await rejection(singleObject([...jobBody(), Buffer.from([0])]))).toMatchObject({ code: 'BAD_AVRO', message: expect.stringContaining('1 trailing bytes') });
  });

  it('rejects a body cut short inside a field', async () => {
    const bytes = singleObject(jobBody());
    const err = await rejection(bytes.subarray(0, 14));
    expect(err).toMatchObject({ code: 'BAD_AVRO', field: 'job_id' });
  });

  it('rejects the map key "__proto__", which an object cannot hold (it silently vanished)', async () => {
    const bytes = singleObject(jobBody({ metadata: Buffer.concat([zigzag(2), avroText('__proto__'), avroText('x'), avroText('a'), avroText('b'), zigzag(0)]) }));
    expect(await rejection(bytes)).toMatchObject({ code: 'INVALID_FIELD', field: 'metadata', message: expect.stringContaining('"__proto__"') });
    const json = '{"job_id":"j","batch_id":"b","prompt":"p","metadata":{"a":"b","__proto__":"x"}}';
    expect(await rejection(Buffer.from(json))).toMatchObject({ code: 'INVALID_FIELD', field: 'metadata' });
    expect(() => validatePromptJob({ ...(JSON.parse(json) as PromptJob), created_at: 1 })).toThrow('"__proto__"');
  });
});

describe('Avro guard: text must be valid UTF-8', () => {
  const cases: Array<[string, number[]]> = [
    ['a stray continuation byte', [0x68, 0x80, 0x69]],
    ['an encoded surrogate (U+D800 as ED A0 80)', [0x68, 0xed, 0xa0, 0x80]],
    ['an overlong encoding of "/"', [0xc0, 0xaf]],
    ['a sequence cut short', [0x68, 0xe2, 0x82]],
  ];
  it.each(cases)('rejects %s in the prompt with INVALID_UTF8, not a silent U+FFFD', async (_, bytes) => {
    const err = await rejection(singleObject(jobBody({ prompt: some(avroText(bytes)) })));
    expect(err).toMatchObject({ code: 'INVALID_UTF8', field: 'prompt', message: "field 'prompt' is not valid UTF-8" });
  });

  it('names the field: job_id, a chat message, a metadata key and value', async () => {
    const bad = avroText([0x6a, 0xff]);
    expect(await rejection(singleObject(jobBody({ job_id: bad })))).toMatchObject({ code: 'INVALID_UTF8', field: 'job_id' });
    const messages = some(zigzag(1), avroText('user'), bad, zigzag(0), zigzag(0));
    expect(await rejection(singleObject(jobBody({ prompt: zigzag(0), messages })))).toMatchObject({ code: 'INVALID_UTF8', field: 'messages[0].content' });
    const badKey = await rejection(singleObject(jobBody({ metadata: Buffer.concat([zigzag(1), bad, avroText('v'), zigzag(0)]) })));
    expect(badKey).toMatchObject({ code: 'INVALID_UTF8', field: 'metadata', message: "a key of field 'metadata' is not valid UTF-8" });
    const badValue = await rejection(singleObject(jobBody({ metadata: Buffer.concat([zigzag(1), avroText('row'), bad, zigzag(0)]) })));
    expect(badValue).toMatchObject({ code: 'INVALID_UTF8', field: 'metadata.row' });
  });

  it('accepts every valid UTF-8 form, four-byte characters included', async () => {
    const text = 'Héllo ✓ 𝄞 日本';
    expect((await codec.decode(singleObject(jobBody({ prompt: some(avroText(text)) })))).prompt).toBe(text);
  });
});
