import { PromptJobSchemas, RecordCodec, SchemaError } from '@sluice/schema';
import { classify, deadLetterCodeOf, type ClassifyLimits } from './classify';

const limits: ClassifyLimits = { maxPromptBytes: 100, model: 'tiny', now: 1_000_000 };
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

  it('lets a registry failure through (retried), never dead-letters it', async () => {
    expect(deadLetterCodeOf(new SchemaError('REGISTRY_ERROR', 'down'))).toBeUndefined();
    await expect(classify(job({}), limits, () => Promise.reject(new SchemaError('REGISTRY_ERROR', 'registry down')))).rejects.toThrow('registry down');
  });
});
