import { classify, type ClassifyLimits } from './classify';

const limits: ClassifyLimits = { maxPromptBytes: 100, model: 'tiny', now: 1_000_000 };
const job = (o: Record<string, unknown>) => Buffer.from(JSON.stringify({ job_id: 'j1', batch_id: 'b1', prompt: 'hi', metadata: {}, created_at: 1, ...o }));

describe('classify', () => {
  it('runs a valid job', () => {
    const v = classify(job({ sampling: { n: 2, temperature: 0.5, max_tokens: 8, stop: ['\n'] } }), limits);
    expect(v).toMatchObject({ kind: 'run', job: { job_id: 'j1', batch_id: 'b1', prompt: 'hi' } });
  });

  it.each([
    ['empty bytes', Buffer.alloc(0), 'UNDECODABLE', /empty/],
    ['binary garbage', Buffer.from([0xff, 0x00, 0x12]), 'UNDECODABLE', /neither Avro-framed nor a JSON object/],
    ['broken JSON', Buffer.from('{"job_id":'), 'UNDECODABLE', /not valid JSON/],
    ['missing job_id', Buffer.from(JSON.stringify({ batch_id: 'b', prompt: 'x' })), 'SCHEMA_VIOLATION', /job_id must be a non-empty string/],
    ['neither prompt nor messages', Buffer.from(JSON.stringify({ job_id: 'j', batch_id: 'b' })), 'SCHEMA_VIOLATION', /one of prompt or messages/],
  ])('dead-letters %s', (_name, bytes, code, message) => {
    const v = classify(bytes, limits);
    expect(v.kind).toBe('dead-letter');
    expect(v).toMatchObject({ code });
    expect((v as { message: string }).message).toMatch(message);
  });

  it.each([
    [{ temperature: -1 }, /sampling.temperature must be >= 0/],
    [{ top_p: 0 }, /sampling.top_p must be in \(0, 1\]/],
    [{ n: 0 }, /sampling.n must be an integer/],
    [{ n: 4, best_of: 2 }, /best_of \(2\) must be >= sampling.n \(4\)/],
    [{ max_tokens: 4, min_tokens: 5 }, /min_tokens \(5\) must be <= sampling.max_tokens/],
    [{ stop: [''] }, /sampling.stop must be an array of non-empty strings/],
    [{ max_tokens: 'ten' }, /sampling.max_tokens must be an integer >= 1, got "ten"/],
  ])('dead-letters invalid sampling %j with the reason, keeping the ids', (sampling, message) => {
    const v = classify(job({ sampling }), limits);
    expect(v).toMatchObject({ kind: 'dead-letter', code: 'INVALID_SAMPLING', job_id: 'j1', batch_id: 'b1' });
    expect((v as { message: string }).message).toMatch(message);
  });

  it('dead-letters an oversized prompt, counting chat message contents', () => {
    expect(classify(job({ prompt: 'x'.repeat(101) }), limits)).toMatchObject({ kind: 'dead-letter', code: 'PROMPT_TOO_LARGE' });
    const messages = [{ role: 'user', content: 'y'.repeat(60) }, { role: 'user', content: 'z'.repeat(60) }];
    expect(classify(job({ prompt: undefined, messages }), limits)).toMatchObject({ kind: 'dead-letter', code: 'PROMPT_TOO_LARGE' });
  });

  it('answers a passed deadline and a foreign model with an error completion', () => {
    expect(classify(job({ deadline: limits.now - 1 }), limits)).toMatchObject({ kind: 'error-completion', code: 'DEADLINE_EXCEEDED' });
    expect(classify(job({ deadline: limits.now + 1 }), limits)).toMatchObject({ kind: 'run' });
    expect(classify(job({ model: 'other' }), limits)).toMatchObject({ kind: 'error-completion', code: 'MODEL_MISMATCH' });
  });
});
