// The built `sluice generate` with the tiny Llama from .cache/models: real inference, no Kafka.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CompletionSchemas, recordFromJsonText } from '@sluice/schema';
import { jsonl, sluice, tempDir, writeText } from './harness';

const MODEL = join(__dirname, '..', '..', '..', '.cache', 'models', 'tiny-llama');
const dir = tempDir('generate');

const completions = (path: string) => readFileSync(path, 'utf8').trim().split('\n').map((l) => recordFromJsonText(CompletionSchemas, l));

describe('sluice generate', () => {
  it('writes one Completion per row in input order, greedy runs repeating themselves', async () => {
    const rows = [
      { prompt: 'The quick brown fox', max_tokens: 3 },
      { job_id: 'chat-1', messages: [{ role: 'user', content: 'Say something.' }] },
      { prompt: 'The quick brown fox', max_tokens: 3 },
      ...Array.from({ length: 9 }, (_, i) => ({ prompt: `Row number ${i} says`, ignore_eos: true })),
    ];
    const input = writeText(dir, 'prompts.jsonl', jsonl(rows));
    const out = join(dir, 'out.jsonl');
    const run = await sluice(['generate', '--model', MODEL, '--input', input, '-o', out, '--batch-id', 'g1', '--temperature', '0', '--max-tokens', '6', '--max-num-seqs', '4', '--json']);
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary).toMatchObject({ batch_id: 'g1', model: 'tiny-llama', requests: 12, failed: 0, bad_rows: 0, output: out });

    const got = completions(out);
    expect(got.map((c) => c.job_id)).toEqual(['g1-0', 'chat-1', 'g1-2', ...Array.from({ length: 9 }, (_, i) => `g1-${i + 3}`)]);
    expect(got.map((c) => c.metadata['sluice.seq'])).toEqual(rows.map((_, i) => String(i)));
    for (const c of got) {
      expect(c).toMatchObject({ batch_id: 'g1', model: 'tiny-llama', error: null });
      expect(c.outputs).toHaveLength(1);
      expect(c.outputs[0].token_ids?.length).toBe(c.usage.completion_tokens);
      expect(c.usage.prompt_tokens).toBeGreaterThan(0);
    }
    // Per-row max_tokens wins over the flag; ignore_eos runs to the flag's limit.
    expect(got[0].usage.completion_tokens).toBeLessThanOrEqual(3);
    expect(got[2].outputs[0]).toEqual(got[0].outputs[0]);
    for (const c of got.slice(3)) expect(c.outputs[0]).toMatchObject({ finish_reason: 'length' });
    expect(got.slice(3).map((c) => c.usage.completion_tokens)).toEqual(Array(9).fill(6));
    expect(got[1].metadata['sluice.kind']).toBe('chat');
    expect(summary.completion_tokens).toBe(got.reduce((n, c) => n + c.usage.completion_tokens, 0));
  });

  it('reports prompt tokens served from the prefix cache per line, in OpenAI usage and in the summary', async () => {
    // One sequence at a time, so each row finds the blocks the rows before it computed.
    const prompt = 'the same long preamble shared by every row of this batch, word after word after word. ';
    const input = writeText(dir, 'cached.jsonl', jsonl(['A', 'B', 'C'].map((q) => ({ custom_id: q, method: 'POST', url: '/v1/completions', body: { model: 'tiny-llama', prompt: prompt + q, max_tokens: 2 } }))));
    const out = join(dir, 'cached-out.jsonl');
    const run = await sluice(['generate', '--model', MODEL, '--input', input, '-o', out, '--max-num-seqs', '1', '--temperature', '0', '--json']);
    expect(run.code).toBe(0);
    const usage = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l).response.body.usage);
    expect(usage[0].prompt_tokens_details).toEqual({ cached_tokens: 0 });
    for (const u of usage.slice(1)) {
      expect(u.prompt_tokens_details.cached_tokens).toBeGreaterThanOrEqual(16);
      expect(u.prompt_tokens_details.cached_tokens).toBeLessThan(u.prompt_tokens);
    }
    expect(JSON.parse(run.stdout).cached_tokens).toBe(usage.reduce((n, u) => n + u.prompt_tokens_details.cached_tokens, 0));
  });

  it('reads OpenAI Batch API input and writes OpenAI output, refused requests as error lines with the worker\'s codes', async () => {
    const input = writeText(dir, 'batch.jsonl', jsonl([
      { custom_id: 'short', method: 'POST', url: '/v1/completions', body: { model: 'tiny', prompt: 'Hi', max_tokens: 2, temperature: 0 } },
      { custom_id: 'long', method: 'POST', url: '/v1/completions', body: { model: 'tiny', prompt: 'word '.repeat(40), max_tokens: 2 } },
      { custom_id: 'other-model', method: 'POST', url: '/v1/completions', body: { model: 'gpt-4o-mini', prompt: 'Hi', max_tokens: 2 } },
      { custom_id: 'too-many-tokens', method: 'POST', url: '/v1/completions', body: { model: 'tiny', prompt: 'Hi', max_tokens: 100000 } },
    ]));
    const out = join(dir, 'openai-out.jsonl');
    const run = await sluice(['generate', '--model', MODEL, '--input', input, '-o', out, '--openai-format', '--max-model-len', '24', '--served-model-name', 'tiny']);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/^generate: wrote 4 completions \(3 refused by the engine\) from .*batch\.jsonl to .*openai-out\.jsonl with tiny-llama in /m);
    const [short, long, other, many] = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(short).toMatchObject({ custom_id: 'short', error: null, response: { status_code: 200, body: { object: 'text_completion', model: 'tiny-llama', choices: [{ index: 0, text: expect.any(String) }] } } });
    // The codes a worker gives the same rows (@sluice/schema's OUTCOMES), where collect writes them as error lines too.
    expect(long).toMatchObject({ custom_id: 'long', response: null, error: { code: 'PROMPT_TOO_LARGE', message: expect.stringContaining('request long rejected') } });
    expect(other).toMatchObject({ custom_id: 'other-model', response: null, error: { code: 'MODEL_MISMATCH', message: expect.stringContaining('"gpt-4o-mini"') } });
    expect(many).toMatchObject({ custom_id: 'too-many-tokens', response: null, error: { code: 'PROMPT_TOO_LARGE' } });
  });

  it('passes OpenAI response_format through: every finished answer fits its schema, one that does not compile is an error line', async () => {
    const schema = { type: 'object', properties: { city: { type: 'string', maxLength: 10 }, n: { type: 'integer', minimum: 0, maximum: 9 } }, required: ['city', 'n'] };
    const line = (id: string, responseFormat: unknown, seed: number) => ({
      custom_id: id, method: 'POST', url: '/v1/chat/completions',
      body: { messages: [{ role: 'user', content: `Where is place ${seed}?` }], max_tokens: 96, temperature: 1, seed, response_format: responseFormat },
    });
    const input = writeText(dir, 'structured.jsonl', jsonl([
      ...Array.from({ length: 6 }, (_, i) => line(`schema-${i}`, { type: 'json_schema', json_schema: { name: 'place', schema, strict: true } }, i)),
      ...Array.from({ length: 3 }, (_, i) => line(`object-${i}`, { type: 'json_object' }, 10 + i)),
      line('bad', { type: 'json_schema', json_schema: { name: 'bad', schema: { type: 'nope' } } }, 20),
    ]));
    const out = join(dir, 'structured-out.jsonl');
    const run = await sluice(['generate', '--model', MODEL, '--input', input, '-o', out, '--openai-format']);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.custom_id)).toEqual([...Array.from({ length: 6 }, (_, i) => `schema-${i}`), 'object-0', 'object-1', 'object-2', 'bad']);
    const fits = (text: string, object: boolean): boolean => {
      const v = JSON.parse(text) as Record<string, unknown>;
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
      if (object) return true;
      const keysOk = Object.keys(v).every((k) => k === 'city' || k === 'n');
      return keysOk && typeof v.city === 'string' && v.city.length <= 10 && Number.isInteger(v.n) && (v.n as number) >= 0 && (v.n as number) <= 9;
    };
    let stopped = 0;
    for (const l of lines.slice(0, 9)) {
      const choice = l.response.body.choices[0];
      if (choice.finish_reason !== 'stop') continue;
      stopped++;
      expect({ id: l.custom_id, fits: fits(choice.message.content, l.custom_id.startsWith('object')) }).toEqual({ id: l.custom_id, fits: true });
    }
    expect(stopped).toBeGreaterThan(4);
    expect(lines[9]).toMatchObject({ custom_id: 'bad', response: null, error: { code: 'INVALID_STRUCTURED_OUTPUT', message: expect.stringContaining('Unsupported type "nope"') } });
  });

  it('gives OpenAI logprobs with token text from the model\'s tokenizer', async () => {
    const input = writeText(dir, 'logprobs.jsonl', jsonl([
      { custom_id: 'chat', method: 'POST', url: '/v1/chat/completions', body: { messages: [{ role: 'user', content: 'Hi' }], max_tokens: 3, temperature: 0, logprobs: true, top_logprobs: 2 } },
      { custom_id: 'text', method: 'POST', url: '/v1/completions', body: { prompt: 'Hi', max_tokens: 3, temperature: 0, logprobs: 2 } },
    ]));
    const out = join(dir, 'logprobs-out.jsonl');
    const run = await sluice(['generate', '--model', MODEL, '--input', input, '-o', out]);
    expect(run.code).toBe(0);
    const [chat, text] = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const chatChoice = chat.response.body.choices[0];
    const content = chatChoice.logprobs.content as Array<{ token: string; logprob: number; bytes: number[]; top_logprobs: Array<{ token: string }> }>;
    expect(content).toHaveLength(chat.response.body.usage.completion_tokens);
    for (const t of content) {
      expect(typeof t.token).toBe('string');
      // A token holding part of a character (this random model makes some) is its bytes escaped, as OpenAI writes it.
      const escaped = `bytes:${t.bytes.map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')}`;
      if (t.token.startsWith('bytes:')) expect(t.token).toBe(escaped);
      else expect(t.bytes).toEqual([...Buffer.from(t.token, 'utf8')]);
      expect(t.top_logprobs).toHaveLength(2);
      // Greedy: the chosen token is the most likely one.
      expect(t.top_logprobs[0].token).toBe(t.token);
    }
    const textLogprobs = text.response.body.choices[0].logprobs;
    expect(textLogprobs.tokens).toHaveLength(text.response.body.usage.completion_tokens);
    expect(textLogprobs.token_logprobs).toHaveLength(textLogprobs.tokens.length);
    expect(textLogprobs.top_logprobs.every((top: Record<string, number>) => Object.keys(top).length >= 1)).toBe(true);
  });

  it('stops at a row with parameters the engine refuses, naming file and line, before any inference and writing nothing', async () => {
    const input = writeText(dir, 'bad.jsonl', jsonl([{ prompt: 'fine' }, { prompt: 'beam', use_beam_search: true, temperature: 0.8 }]));
    const out = join(dir, 'bad-out.jsonl');
    const run = await sluice(['generate', '--model', MODEL, '--input', input, '-o', out]);
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe(`sluice: ${input}:2: field 'temperature': must be 0 with beam search, got 0.8`);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((n) => n.startsWith('bad-out'))).toEqual([]);
  });

  it('runs with a bfloat16 KV cache, and refuses a kv cache dtype it does not have', async () => {
    const input = writeText(dir, 'kv.jsonl', jsonl(Array.from({ length: 3 }, (_, i) => ({ prompt: `Row ${i} says`, ignore_eos: true }))));
    const out = join(dir, 'kv-out.jsonl');
    const run = await sluice(['generate', '--model', MODEL, '--input', input, '-o', out, '--kv-cache-dtype', 'bfloat16', '--temperature', '0', '--max-tokens', '5', '--json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ requests: 3, failed: 0, completion_tokens: 15 });
    expect(completions(out).map((c) => c.outputs[0].token_ids?.length)).toEqual([5, 5, 5]);
    const bad = await sluice(['generate', '--model', MODEL, '--input', input, '-o', join(dir, 'never.jsonl'), '--kv-cache-dtype', 'fp8']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("option '--kv-cache-dtype <dtype>' argument 'fp8' is invalid. Allowed choices are auto, bfloat16.");
  });

  it('names the missing model file in one line', async () => {
    const empty = tempDir('empty-model');
    const input = writeText(dir, 'one.jsonl', jsonl([{ prompt: 'x' }]));
    const run = await sluice(['generate', '--model', empty, '--input', input, '-o', join(dir, 'never.jsonl')]);
    expect(run.code).toBe(5);
    expect(run.stderr.trim()).toBe(`sluice: cannot load the model: ${join(empty, 'config.json')}: required model file is missing`);
  });
});
