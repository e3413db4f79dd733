// One table of rows and the outcome each must get: `sluice generate` and a worker (through `sluice collect`) agree.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runSluice } from '../src/apps';
import { writeJsonl } from '../src/dataset';
import { Pipeline, TINY_MODEL } from '../src/pipeline';

// Both run with at most 2 sequences per step and answer to "my-alias" too.
const ROWS: Array<{ custom_id: string; body: Record<string, unknown>; code: string | null }> = [
  { custom_id: 'plain', body: { prompt: 'Hello', max_tokens: 2, temperature: 0 }, code: null },
  { custom_id: 'other-model', body: { model: 'gpt-4o-mini', prompt: 'Hello', max_tokens: 2 }, code: 'MODEL_MISMATCH' },
  { custom_id: 'alias', body: { model: 'my-alias', prompt: 'Hello', max_tokens: 2 }, code: null },
  { custom_id: 'over-max-len', body: { prompt: 'Hello', max_tokens: 100000 }, code: 'PROMPT_TOO_LARGE' },
  { custom_id: 'over-max-seqs', body: { prompt: 'Hello', max_tokens: 2, n: 3 }, code: 'ENGINE_REJECTED' },
  { custom_id: 'chat', body: { messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2 }, code: null },
  { custom_id: 'logprobs', body: { messages: [{ role: 'user', content: 'Hi' }], max_tokens: 3, temperature: 0, logprobs: true, top_logprobs: 2 }, code: null },
];

// The logprobs of the row that asks for them, in OpenAI's shape.
const logprobsOf = (path: string) =>
  readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).find((l) => l.custom_id === 'logprobs').response.body.choices[0].logprobs;

const codes = (path: string) =>
  readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { custom_id: string; error: { code: string } | null }).map((l) => [l.custom_id, l.error?.code ?? null]);

describe('generate and a worker agree on every outcome', () => {
  const p = new Pipeline();
  afterAll(() => p.close());

  it('gives each row of the table the same line, one per row in input order, dead-lettered rows included', async () => {
    const file = join(p.dir, 'openai.jsonl');
    writeJsonl(file, ROWS.map(({ custom_id, body }) => ({ custom_id, method: 'POST', url: body.messages ? '/v1/chat/completions' : '/v1/completions', body })));
    const expected = ROWS.map((r) => [r.custom_id, r.code]);

    const generated = join(p.dir, 'generated.jsonl');
    const gen = await runSluice(['generate', '--model', TINY_MODEL, '--input', file, '-o', generated, '--max-num-seqs', '2', '--served-model-name', 'my-alias', '--no-progress'], p.env);
    expect({ code: gen.code, stderr: gen.code === 0 ? '' : gen.stderr }).toEqual({ code: 0, stderr: '' });
    expect(codes(generated)).toEqual(expected);

    await p.createBucket();
    const { batch_id: batch } = await p.produce(file);
    const worker = p.startWorker('w1', { SLUICE_MAX_NUM_SEQS: '2', SLUICE_SERVED_MODEL_NAME: 'my-alias' });
    await p.waitForBatch(batch, 300_000, () => worker.tail());
    const collected = join(p.dir, 'collected.jsonl');
    // An OpenAI Batch input file gets OpenAI Batch output from both without being asked.
    const summary = await p.collect(batch, collected, ['--tokenizer', TINY_MODEL]);
    expect(summary).toMatchObject({ written: ROWS.length, pending: 0, dead_lettered: 1, format: 'openai' });
    expect(codes(collected)).toEqual(expected);
    // Greedy, so both ran the same tokens: the same OpenAI logprobs, token text from the model's tokenizer.
    expect(logprobsOf(generated).content).toHaveLength(3);
    expect(logprobsOf(collected)).toEqual(logprobsOf(generated));
  });
});
