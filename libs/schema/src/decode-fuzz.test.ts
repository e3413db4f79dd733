// Fuzzes every decode path: random valid records round-trip; mutated and truncated ones decode to a record within the
// limits that passes validation, or throw SchemaError, never anything else and never a hang (jest's timeout).
import fc from 'fast-check';
import { MAX_AVRO_LONG } from './avro-body';
import { RecordCodec } from './codec';
import type { DecodeLimits } from './decode-limits';
import { SchemaError } from './errors';
import { CompletionSchemas, DeadLetterSchemas, PromptJobSchemas } from './families';
import { recordToJson } from './json-record';
import { validatePromptJob } from './prompt-job-rules';
import { encodeSingleObject } from './single-object';
import type { ChatMessage, PromptJob, SamplingParams } from './types';
import { fullCompletion, fullDeadLetter } from '../test/records';
import { zigzag } from '../test/avro-bytes';

// Small limits, so that mutations reach them and a decoded record can be checked against them.
const LIMITS: DecodeLimits = {
  maxMessageBytes: 4096, maxPromptBytes: 64, maxStringBytes: 48, maxMessages: 4, maxMetadataEntries: 4,
  maxStopStrings: 3, maxStopTokenIds: 3, maxCollectionItems: 8,
};
const jobs = new RecordCodec(PromptJobSchemas, { limits: LIMITS });

const opt = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: null });
// At most 12 code points of up to 4 bytes: within maxStringBytes.
const text = fc.string({ unit: 'binary', maxLength: 12 });
const nonBlank = text.filter((s) => s.trim() !== '');
// -0 is mapped to 0: JSON has no -0, so it could not round-trip through JSON.
const finite = (min: number, max: number) => fc.double({ min, max, noNaN: true, noDefaultInfinity: true }).map((x) => (x === 0 ? 0 : x));

// fast-check likes to try "__proto__", which every decode path refuses as a map key (see checkMapKey).
const metadataKey = text.filter((k) => k !== '__proto__');

const message: fc.Arbitrary<ChatMessage> = fc.record({ role: nonBlank, content: text, name: opt(text) });

const sampling: fc.Arbitrary<SamplingParams> = fc
  .record({
    n: opt(fc.integer({ min: 1, max: 4 })), best_of: opt(fc.integer({ min: 1, max: 8 })), temperature: opt(finite(0, 2)),
    top_p: opt(finite(Number.MIN_VALUE, 1)), top_k: opt(fc.integer({ min: -1, max: 100 })), min_p: opt(finite(0, 1)),
    seed: opt(fc.integer({ min: 0, max: MAX_AVRO_LONG })), presence_penalty: opt(finite(-2, 2)), frequency_penalty: opt(finite(-2, 2)),
    repetition_penalty: opt(finite(Number.MIN_VALUE, 2)), stop: opt(fc.array(text.filter((s) => s !== ''), { maxLength: 3 })),
    stop_token_ids: opt(fc.array(fc.nat(50_000), { maxLength: 3 })), include_stop_str_in_output: opt(fc.boolean()),
    ignore_eos: opt(fc.boolean()), max_tokens: opt(fc.integer({ min: 1, max: 4096 })), min_tokens: opt(fc.integer({ min: 0, max: 4096 })),
    logprobs: opt(fc.nat(20)), prompt_logprobs: opt(fc.nat(20)), skip_special_tokens: opt(fc.boolean()),
    use_beam_search: opt(fc.boolean()), beam_width: opt(fc.integer({ min: 1, max: 8 })), length_penalty: opt(finite(-5, 5)),
    early_stopping: opt(fc.oneof(fc.boolean(), fc.constant('never' as const))),
    guided_json: opt(text), guided_regex: opt(text), guided_choice: opt(fc.array(text, { maxLength: 3 })), guided_grammar: opt(text),
    guided_json_object: opt(fc.boolean()),
  })
  .map((s) => ({
    ...s,
    best_of: s.best_of === null ? null : Math.max(s.best_of, s.n ?? 1),
    min_tokens: s.min_tokens === null || s.max_tokens === null ? s.min_tokens : Math.min(s.min_tokens, s.max_tokens),
  }));

const promptJob: fc.Arbitrary<PromptJob> = fc
  .record({
    job_id: nonBlank, batch_id: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,20}$/), useMessages: fc.boolean(),
    prompt: text.filter((s) => s !== ''), messages: fc.array(message, { minLength: 1, maxLength: 4 }), model: opt(text),
    sampling: opt(sampling), priority: opt(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
    metadata: fc.dictionary(metadataKey, text, { maxKeys: 4, noNullPrototype: true }), created_at: fc.integer({ min: 0, max: 4e12 }),
    deadline: opt(fc.integer({ min: 0, max: 4e12 })), trace_id: opt(fc.stringMatching(/^[0-9a-f]{32}$/)),
  })
  .map(({ useMessages, prompt, messages, ...rest }) => ({ ...rest, prompt: useMessages ? null : prompt, messages: useMessages ? messages : null }));

// Byte sequences a hostile writer inserts: huge, negative, overlong and 64-bit-overflowing varints.
const VARINTS = [
  zigzag(2n ** 40n), zigzag(-(2n ** 40n)), zigzag(2n ** 31n), zigzag(2n ** 62n), zigzag(-1),
  Buffer.from([...Array(9).fill(0xff), 0x01]), Buffer.from([...Array(10).fill(0x80), 0x01]), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]),
];

type Mutation = { kind: 'set'; at: number; byte: number } | { kind: 'insert'; at: number; varint: number } | { kind: 'delete'; at: number; length: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.nat(255) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), varint: fc.nat(VARINTS.length - 1) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
);

function mutate(bytes: Buffer, mutations: Mutation[]): Buffer {
  let out = Buffer.from(bytes);
  for (const m of mutations) {
    const at = out.length === 0 ? 0 : m.at % out.length;
    if (m.kind === 'set') out[at] = m.byte;
    else if (m.kind === 'insert') out = Buffer.concat([out.subarray(0, at), VARINTS[m.varint], out.subarray(at)]);
    else out = Buffer.concat([out.subarray(0, at), out.subarray(at + m.length)]);
  }
  return out;
}

const bytesOf = (s: string) => Buffer.byteLength(s);

/** A decoded job must pass the worker's rules and every limit it was decoded under. */
function expectWithinLimits(job: PromptJob): void {
  validatePromptJob(job);
  const strings = [job.job_id, job.batch_id, job.model, job.trace_id, ...Object.entries(job.metadata).flat(), ...(job.sampling?.stop ?? [])];
  for (const m of job.messages ?? []) strings.push(m.role, m.name);
  for (const s of strings) if (s != null) expect(bytesOf(s)).toBeLessThanOrEqual(LIMITS.maxStringBytes);
  for (const p of [job.prompt, ...(job.messages ?? []).map((m) => m.content)]) if (p != null) expect(bytesOf(p)).toBeLessThanOrEqual(LIMITS.maxPromptBytes);
  expect(job.messages?.length ?? 0).toBeLessThanOrEqual(LIMITS.maxMessages);
  expect(Object.keys(job.metadata).length).toBeLessThanOrEqual(LIMITS.maxMetadataEntries);
  expect(job.sampling?.stop?.length ?? 0).toBeLessThanOrEqual(LIMITS.maxStopStrings);
  expect(job.sampling?.stop_token_ids?.length ?? 0).toBeLessThanOrEqual(LIMITS.maxStopTokenIds);
}

/** Decodes; a SchemaError is a fine outcome and is returned, any other error fails the property. */
async function decodeOrSchemaError<T>(codec: { decode(b: Buffer): Promise<T> }, bytes: Buffer): Promise<T | SchemaError> {
  try {
    return await codec.decode(bytes);
  } catch (err) {
    if (err instanceof SchemaError) return err;
    throw err;
  }
}

const jsonBytes = (job: PromptJob) => Buffer.from(recordToJson(job));

describe('decoder fuzz', () => {
  it('random valid jobs round-trip through Avro and JSON', async () => {
    await fc.assert(
      fc.asyncProperty(promptJob, async (job) => {
        expect(await jobs.decode(encodeSingleObject(PromptJobSchemas, job))).toEqual(job);
        expect(await jobs.decode(jsonBytes(job))).toEqual(job);
      }),
      { numRuns: 300 },
    );
  });

  it('mutated Avro jobs decode to a job within the limits or throw SchemaError', async () => {
    await fc.assert(
      fc.asyncProperty(promptJob, fc.array(mutation, { minLength: 1, maxLength: 4 }), async (job, mutations) => {
        const result = await decodeOrSchemaError(jobs, mutate(encodeSingleObject(PromptJobSchemas, job), mutations));
        if (!(result instanceof SchemaError)) expectWithinLimits(result);
      }),
      { numRuns: 2000 },
    );
  });

  it('mutated JSON jobs decode to a job within the limits or throw SchemaError', async () => {
    await fc.assert(
      fc.asyncProperty(promptJob, fc.array(mutation, { minLength: 1, maxLength: 4 }), async (job, mutations) => {
        const result = await decodeOrSchemaError(jobs, mutate(jsonBytes(job), mutations));
        if (!(result instanceof SchemaError)) expectWithinLimits(result);
      }),
      { numRuns: 1000 },
    );
  });

  it('every truncation of a valid job, Avro or JSON (cut at every byte), throws SchemaError', async () => {
    await fc.assert(
      fc.asyncProperty(promptJob, async (job) => {
        for (const bytes of [encodeSingleObject(PromptJobSchemas, job), jsonBytes(job)]) {
          for (let cut = 0; cut < bytes.length; cut++) expect(await decodeOrSchemaError(jobs, bytes.subarray(0, cut))).toBeInstanceOf(SchemaError);
        }
      }),
      { numRuns: 15 },
    );
  });

  it('every truncation and mutation of a completion and a dead letter decodes or throws SchemaError', async () => {
    const bases: Array<[{ decode(b: Buffer): Promise<unknown> }, Buffer]> = [
      [new RecordCodec(CompletionSchemas, { limits: LIMITS }), encodeSingleObject(CompletionSchemas, fullCompletion())],
      [new RecordCodec(DeadLetterSchemas, { limits: LIMITS }), encodeSingleObject(DeadLetterSchemas, fullDeadLetter())],
    ];
    for (const [codec, bytes] of bases) {
      for (let cut = 0; cut < bytes.length; cut++) expect(await decodeOrSchemaError(codec, bytes.subarray(0, cut))).toBeInstanceOf(SchemaError);
    }
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...bases), fc.array(mutation, { minLength: 1, maxLength: 4 }), async ([codec, bytes], mutations) => {
        await decodeOrSchemaError(codec, mutate(bytes, mutations));
      }),
      { numRuns: 1000 },
    );
  });
});
