// Structured output through the whole pipeline: an OpenAI Batch file with response_format rows goes through
// produce -> a real worker (the tiny random model, whose unmasked output is noise) -> collect; every answer that
// finished fits its format, a schema that cannot compile is dead-lettered as INVALID_STRUCTURED_OUTPUT while the
// worker keeps serving, and greedy rows match `sluice generate` token for token.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runSluice } from '../src/apps';
import { writeJsonl } from '../src/dataset';
import { Pipeline, TINY_MODEL } from '../src/pipeline';

const SCHEMA = {
  type: 'object',
  properties: { label: { enum: ['yes', 'no', 'maybe'] }, score: { type: 'integer', minimum: 0, maximum: 9 } },
  required: ['label', 'score'],
  additionalProperties: false,
};
const jsonSchema = (schema: unknown) => ({ type: 'json_schema', json_schema: { name: 'verdict', schema, strict: true } });
const row = (id: string, responseFormat: unknown, temperature: number) => ({
  custom_id: id, method: 'POST', url: '/v1/chat/completions',
  body: { messages: [{ role: 'user', content: `Judge case ${id}.` }], max_tokens: 256, temperature, seed: id.length, response_format: responseFormat },
});
const ROWS = [
  ...Array.from({ length: 4 }, (_, i) => row(`greedy-${i}`, jsonSchema(SCHEMA), 0)),
  ...Array.from({ length: 3 }, (_, i) => row(`sampled-${i}`, jsonSchema(SCHEMA), 1)),
  ...Array.from({ length: 2 }, (_, i) => row(`object-${i}`, { type: 'json_object' }, 0)),
  row('bad-schema', jsonSchema({ type: 'nope' }), 0),
];

interface Line { custom_id: string; error: { code: string; message: string } | null; response: { body: { choices: Array<{ message: { content: string }; finish_reason: string }> } } | null }
const linesOf = (path: string) => readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Line);

function fits(id: string, text: string): boolean {
  const v = JSON.parse(text) as Record<string, unknown>;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  if (id.startsWith('object')) return true;
  const keys = Object.keys(v).sort().join(',');
  return keys === 'label,score' && ['yes', 'no', 'maybe'].includes(v.label as string) && Number.isInteger(v.score) && (v.score as number) >= 0 && (v.score as number) <= 9;
}

describe('structured output, produce -> worker -> collect', () => {
  const p = new Pipeline();
  afterAll(() => p.close());

  it('answers every constrained row in its format, dead-letters a schema that cannot compile, and agrees with generate', async () => {
    const file = join(p.dir, 'structured.jsonl');
    writeJsonl(file, ROWS);
    await p.createBucket();
    const { batch_id: batch } = await p.produce(file);
    const worker = p.startWorker('w1', { SLUICE_MAX_NUM_SEQS: '4' });
    await p.waitForBatch(batch, 300_000, () => worker.tail());
    const collected = join(p.dir, 'collected.jsonl');
    const summary = await p.collect(batch, collected);
    expect(summary).toMatchObject({ written: ROWS.length, pending: 0, dead_lettered: 1, format: 'openai' });

    const lines = linesOf(collected);
    expect(lines.map((l) => l.custom_id)).toEqual(ROWS.map((r) => r.custom_id));
    const bad = lines.pop()!;
    expect(bad).toMatchObject({ response: null, error: { code: 'INVALID_STRUCTURED_OUTPUT' } });
    let stopped = 0;
    for (const l of lines) {
      expect({ id: l.custom_id, error: l.error }).toEqual({ id: l.custom_id, error: null });
      const choice = l.response!.body.choices[0];
      if (choice.finish_reason !== 'stop') continue;
      stopped++;
      expect({ id: l.custom_id, fits: fits(l.custom_id, choice.message.content) }).toEqual({ id: l.custom_id, fits: true });
    }
    // Random weights: without the mask no answer would parse at all.
    expect(stopped).toBeGreaterThanOrEqual(5);

    const generated = join(p.dir, 'generated.jsonl');
    const gen = await runSluice(['generate', '--model', TINY_MODEL, '--input', file, '-o', generated, '--max-num-seqs', '4', '--no-progress'], p.env);
    expect({ code: gen.code, stderr: gen.code === 0 ? '' : gen.stderr }).toEqual({ code: 0, stderr: '' });
    const fromGenerate = linesOf(generated);
    expect(fromGenerate.at(-1)).toMatchObject({ custom_id: 'bad-schema', error: { code: 'INVALID_STRUCTURED_OUTPUT' } });
    // Greedy rows are the same tokens on both paths: the worker masks as generate does.
    const greedy = (ls: Line[]) => ls.filter((l) => l.custom_id.startsWith('greedy') || l.custom_id.startsWith('object')).map((l) => [l.custom_id, l.response?.body.choices[0].message.content]);
    expect(greedy(lines)).toEqual(greedy(fromGenerate));
  });
});
