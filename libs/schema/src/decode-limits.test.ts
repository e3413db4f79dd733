import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RecordCodec } from './codec';
import { DECODE_LIMITS, DEFAULT_DECODE_LIMITS, resolveDecodeLimits, type DecodeLimitName, type DecodeLimits } from './decode-limits';
import { SchemaError } from './errors';
import { CompletionSchemas, PromptJobSchemas } from './families';
import { recordToJson } from './json-record';
import { encodeSingleObject } from './single-object';
import type { SchemaFamily } from './schema-files';
import type { PromptJob } from './types';
import { fullCompletion } from '../test/records';

type Format = 'avro' | 'json';

interface EdgeCase {
  /** Field the error names (undefined: the whole record). */
  field: string | undefined;
  /** A record whose measured size or count is exactly `n`, on the wire in `format`. */
  bytes(n: number, format: Format): Buffer;
  /** Limit used for the small edge: the record is built at this size and one more. */
  small: number;
}

const job = (over: Partial<PromptJob> = {}): PromptJob => ({
  job_id: 'j1', batch_id: 'b1', prompt: 'hi', messages: null, model: null, sampling: null, priority: null,
  metadata: {}, created_at: 1_764_000_000_000, deadline: null, trace_id: null, ...over,
});

/** Text of exactly `n` UTF-8 bytes, mostly two-byte characters, so a limit counted in characters would be caught. */
const textOf = (n: number) => 'é'.repeat(Math.floor(n / 2)) + (n % 2 ? 'a' : '');

function wire<T>(family: SchemaFamily<T>, value: T, format: Format): Buffer {
  return format === 'avro' ? encodeSingleObject(family, value) : Buffer.from(recordToJson(value));
}

const jobBytes = (over: Partial<PromptJob>) => (format: Format) => wire(PromptJobSchemas, job(over), format);

/** A job of exactly `n` bytes on the wire: JSON padded with trailing spaces, Avro by the prompt's length. */
function jobOfSize(n: number, format: Format): Buffer {
  if (format === 'json') {
    const text = recordToJson(job());
    return Buffer.from(text.padEnd(n, ' '));
  }
  let promptBytes = n;
  for (let i = 0; i < 5; i++) {
    const bytes = encodeSingleObject(PromptJobSchemas, job({ prompt: 'x'.repeat(promptBytes) }));
    if (bytes.length === n) return bytes;
    promptBytes += n - bytes.length;
  }
  throw new Error(`no job of exactly ${n} bytes`);
}

const CASES: Record<DecodeLimitName, EdgeCase> = {
  maxMessageBytes: { field: undefined, small: 300, bytes: jobOfSize },
  maxPromptBytes: { field: 'prompt', small: 11, bytes: (n, f) => jobBytes({ prompt: textOf(n) })(f) },
  maxStringBytes: { field: 'model', small: 11, bytes: (n, f) => jobBytes({ model: textOf(n) })(f) },
  maxMessages: {
    field: 'messages', small: 3,
    bytes: (n, f) => jobBytes({ prompt: null, messages: Array.from({ length: n }, () => ({ role: 'user', content: 'hi', name: null })) })(f),
  },
  maxMetadataEntries: {
    field: 'metadata', small: 3,
    bytes: (n, f) => jobBytes({ metadata: Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v'])) })(f),
  },
  maxStopStrings: { field: 'sampling.stop', small: 3, bytes: (n, f) => jobBytes({ sampling: { stop: Array.from({ length: n }, (_, i) => `s${i}`) } })(f) },
  maxStopTokenIds: { field: 'sampling.stop_token_ids', small: 3, bytes: (n, f) => jobBytes({ sampling: { stop_token_ids: Array(n).fill(2) } })(f) },
  maxCollectionItems: {
    field: 'outputs[0].token_ids', small: 3,
    bytes: (n, f) => {
      const completion = fullCompletion();
      completion.outputs[0].token_ids = Array(n).fill(1);
      return wire(CompletionSchemas, completion, f);
    },
  },
};

const familyOf = (name: DecodeLimitName) => (name === 'maxCollectionItems' ? CompletionSchemas : PromptJobSchemas);

/** Every other limit raised far out of the way, so only `name` can bind. */
function only(name: DecodeLimitName, value: number): DecodeLimits {
  const wide = Object.fromEntries(DECODE_LIMITS.map((l) => [l.name, 64 * 1024 * 1024])) as DecodeLimits;
  return { ...wide, [name]: value };
}

async function decodeOrError(codec: { decode(b: Buffer): Promise<unknown> }, bytes: Buffer): Promise<unknown> {
  return codec.decode(bytes).catch((err: unknown) => err);
}

describe('decode limits: the table', () => {
  it('gives every limit a positive default, a unit, a doc and a why', () => {
    for (const limit of DECODE_LIMITS) {
      expect(Number.isSafeInteger(limit.default) && limit.default > 0).toBe(true);
      expect(limit.doc.length).toBeGreaterThan(10);
      expect(limit.why.length).toBeGreaterThan(10);
      expect(DEFAULT_DECODE_LIMITS[limit.name]).toBe(limit.default);
    }
    expect(DEFAULT_DECODE_LIMITS.maxMessageBytes).toBe(1024 * 1024);
  });

  it('is what the README documents, row for row', () => {
    const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
    for (const l of DECODE_LIMITS) expect(readme).toContain(`| \`${l.name}\` | ${l.default} ${l.unit} | `);
  });

  it('merges overrides over the defaults and refuses unknown or non-positive ones, naming them', () => {
    expect(resolveDecodeLimits({ maxMessages: 5 })).toEqual({ ...DEFAULT_DECODE_LIMITS, maxMessages: 5 });
    expect(() => resolveDecodeLimits({ maxMessages: 0 })).toThrow("decode limit 'maxMessages' must be a positive integer, got 0");
    expect(() => resolveDecodeLimits({ maxStringBytes: 1.5 })).toThrow(RangeError);
    expect(() => resolveDecodeLimits({ maxStringBytes: NaN })).toThrow('got NaN');
    expect(() => resolveDecodeLimits({ maxPrompts: 3 } as unknown as Partial<DecodeLimits>)).toThrow("unknown decode limit 'maxPrompts'");
    expect(() => resolveDecodeLimits({ toString: 3 } as unknown as Partial<DecodeLimits>)).toThrow("unknown decode limit 'toString'");
    expect(() => new RecordCodec(PromptJobSchemas, { limits: { maxMetadataEntries: -1 } })).toThrow(RangeError);
  });
});

describe.each<Format>(['avro', 'json'])('decode limits at their edges (%s)', (format) => {
  const edges = (name: DecodeLimitName): Array<[string, number]> => [
    ['a small configured limit', CASES[name].small],
    ['the default', DEFAULT_DECODE_LIMITS[name]],
  ];

  it.each(DECODE_LIMITS.map((l) => l.name))('%s: the limit passes, one more is LIMIT_EXCEEDED naming field, value and limit', async (name) => {
    const { field, bytes } = CASES[name];
    for (const [, limit] of edges(name)) {
      const codec = new RecordCodec(familyOf(name) as SchemaFamily<unknown>, { limits: only(name, limit) });
      expect(await decodeOrError(codec, bytes(limit, format))).not.toBeInstanceOf(Error);
      const err = await decodeOrError(codec, bytes(limit + 1, format));
      expect(err).toBeInstanceOf(SchemaError);
      expect(err).toMatchObject({ code: 'LIMIT_EXCEEDED', field });
      expect((err as Error).message).toContain(`${limit + 1}`);
      expect((err as Error).message).toContain(`over the limit ${name} = ${limit}`);
    }
  });

  it('binds maxPromptBytes to chat message content too, and maxStringBytes to metadata keys', async () => {
    const codec = new RecordCodec(PromptJobSchemas, { limits: { maxPromptBytes: 4, maxStringBytes: 6 } });
    const chat = job({ prompt: null, messages: [{ role: 'system', content: 'hello', name: null }] });
    expect(await decodeOrError(codec, wire(PromptJobSchemas, chat, format))).toMatchObject({ code: 'LIMIT_EXCEEDED', field: 'messages[0].content' });
    const key = job({ metadata: { 'seven77': 'v' } });
    expect(await decodeOrError(codec, wire(PromptJobSchemas, key, format))).toMatchObject({
      code: 'LIMIT_EXCEEDED', field: 'metadata', message: expect.stringContaining("a key of field 'metadata' is 7 bytes"),
    });
  });
});
