// generate with a small fake engine: ordering, refused requests, bad rows and load failures (the real model is in test/).
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelLoadError, RequestRejectedError, SamplingParams, type RequestOutput } from '@sluice/engine';
import { generate, type GenerateEngine, type GenerateOptions } from './generate';

const dir = mkdtempSync(join(tmpdir(), 'sluice-generate-'));

function input(name: string, rows: unknown[]): string {
  const path = join(dir, name);
  writeFileSync(path, rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n'));
  return path;
}

/** Answers with the prompt upper-cased; later requests finish first, so output order is generate's doing. */
class FakeEngine implements GenerateEngine {
  readonly modelName = 'fake';
  readonly seen: Array<{ id: string; params?: object; priority?: number }> = [];
  closed = false;

  async add(request: Parameters<GenerateEngine['add']>[0]): Promise<RequestOutput> {
    this.seen.push({ id: request.id, params: request.params, priority: request.priority });
    const text = 'prompt' in request.input ? request.input.prompt : request.input.messages.map((m) => m.content).join(' ');
    for (let i = 0; i < 20 - this.seen.length; i += 1) await new Promise((r) => setImmediate(r));
    if (text === 'too long') throw new RequestRejectedError(request.id, 'EXCEEDS_MAX_MODEL_LEN', 'prompt is longer than max_model_len');
    return {
      requestId: request.id,
      promptTokenIds: [1, 2],
      outputs: [{ index: 0, text: text.toUpperCase(), tokenIds: [7], cumulativeLogprob: -0.5, finishReason: 'stop' }],
      finished: true,
      usage: { promptTokens: 2, completionTokens: 1, cachedPromptTokens: 0 },
      timings: { arrivalMs: 1000, firstScheduledMs: 1002, firstTokenMs: 1005, finishedMs: 1010 },
    };
  }

  async shutdown(): Promise<void> {
    this.closed = true;
  }
}

function options(file: string, over: Partial<GenerateOptions> = {}): GenerateOptions {
  return {
    engine: { model: '/models/fake', device: 'cpu' },
    input: file,
    output: join(dir, `${Math.random().toString(36).slice(2)}.jsonl`),
    batchId: 'gen',
    mapping: { promptField: 'prompt', messagesField: 'messages', modelField: 'model', paramsField: 'sampling', metadataFields: [], defaults: { sampling: { max_tokens: 8 } } },
    skipBad: false,
    openaiFormat: false,
    progress: false,
    ...over,
  };
}

const readLines = (path: string) => readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

describe('generate', () => {
  it('writes one Completion line per row in input order, refused requests as error lines', async () => {
    const file = input('ten.jsonl', [...Array.from({ length: 9 }, (_, i) => ({ prompt: `p${i}`, priority: i % 2 })), { prompt: 'too long' }]);
    const engine = new FakeEngine();
    const opts = options(file);
    const summary = await generate(opts, async () => engine);
    expect(summary).toMatchObject({ model: 'fake', requests: 10, failed: 1, bad_rows: 0, prompt_tokens: 18, completion_tokens: 9, format: 'jsonl' });
    const lines = readLines(opts.output);
    expect(lines.map((l) => l.job_id)).toEqual(Array.from({ length: 10 }, (_, i) => `gen-${i}`));
    expect(lines[3]).toEqual({
      job_id: 'gen-3', batch_id: 'gen', model: 'fake', worker_id: expect.stringMatching(/^sluice-generate-/), completed_at: expect.any(Number), error: null,
      outputs: [{ index: 0, text: 'P3', token_ids: [7], finish_reason: 'stop', stop_reason: null, cumulative_logprob: -0.5, logprobs: null }],
      usage: { prompt_tokens: 2, completion_tokens: 1, cached_tokens: 0 },
      timings: { queued_ms: 2, first_token_ms: 5, total_ms: 10 },
      metadata: { 'sluice.seq': '3', 'sluice.kind': 'text' },
    });
    // The worker's code for the same refusal (@sluice/schema's OUTCOMES), not the engine's own error code.
    expect(lines[9]).toMatchObject({ outputs: [], error: { code: 'PROMPT_TOO_LARGE', message: 'request gen-9 rejected: prompt is longer than max_model_len' } });
    expect(engine.seen[1]).toEqual({ id: 'gen-1', params: new SamplingParams({ maxTokens: 8 }), priority: 1 });
    expect(engine.closed).toBe(true);
  });

  it('writes OpenAI Batch API output lines keyed by custom_id', async () => {
    const file = input('openai.jsonl', [{ custom_id: 'r1', method: 'POST', url: '/v1/chat/completions', body: { model: 'x', messages: [{ role: 'user', content: 'hi there' }] } }]);
    // OpenAI Batch input answers in OpenAI Batch output unless told otherwise.
    const opts = options(file, { openaiFormat: undefined, servedModelNames: ['x'] });
    await generate(opts, async () => new FakeEngine());
    const native = options(file, { openaiFormat: false, servedModelNames: ['x'] });
    await generate(native, async () => new FakeEngine());
    expect(readLines(native.output)).toEqual([expect.objectContaining({ job_id: 'r1', outputs: [expect.objectContaining({ text: 'HI THERE' })] })]);
    expect(readLines(opts.output)).toEqual([expect.objectContaining({ custom_id: 'r1', error: null, response: expect.objectContaining({ body: expect.objectContaining({ object: 'chat.completion', model: 'fake', choices: [expect.objectContaining({ message: { role: 'assistant', content: 'HI THERE' } })] }) }) })]);
  });

  it('answers a row naming another model with MODEL_MISMATCH, as a worker does, unless --served-model-name names it', async () => {
    const file = input('models.jsonl', [{ prompt: 'a', model: 'gpt-4o-mini' }, { prompt: 'b', model: 'fake' }, { prompt: 'c' }]);
    const engine = new FakeEngine();
    const opts = options(file);
    expect(await generate(opts, async () => engine)).toMatchObject({ requests: 3, failed: 1 });
    const [a, b, c] = readLines(opts.output);
    expect(a).toMatchObject({ job_id: 'gen-0', model: 'fake', outputs: [], error: { code: 'MODEL_MISMATCH', message: 'job asks for model "gpt-4o-mini", this deployment serves "fake" (--served-model-name adds a name)' } });
    expect([b.error, c.error]).toEqual([null, null]);
    expect(engine.seen.map((r) => r.id)).toEqual(['gen-1', 'gen-2']);

    const named = options(file, { servedModelNames: ['gpt-4o-mini'] });
    expect(await generate(named, async () => new FakeEngine())).toMatchObject({ requests: 3, failed: 0 });
  });

  it('stops at a row the engine would refuse, before any request and with no output', async () => {
    const file = input('bad.jsonl', [{ prompt: 'a' }, { prompt: 'b', temperature: 0.5, use_beam_search: true }, { prompt: 'c' }]);
    const engine = new FakeEngine();
    const opts = options(file);
    await expect(generate(opts, async () => engine)).rejects.toThrow(expect.objectContaining({ exitCode: 1, message: `${file}:2: field 'temperature': must be 0 with beam search, got 0.5` }));
    expect(engine.seen).toEqual([]);
    expect(engine.closed).toBe(true);
    expect(existsSync(opts.output)).toBe(false);
  });

  it('skips rows the engine cannot express with --skip-bad, counting them', async () => {
    const file = input('skip.jsonl', [{ prompt: 'a', length_penalty: 2 }, { prompt: 'b' }]);
    const opts = options(file, { skipBad: true });
    const summary = await generate(opts, async () => new FakeEngine());
    expect(summary).toMatchObject({ requests: 1, bad_rows: 1, bad_examples: [`${file}:1: field 'length_penalty': only applies with useBeamSearch`] });
    // The skipped row keeps its line and place, as collect gives it: a BAD_ROW error record.
    const lines = readLines(opts.output);
    expect(lines.map((l) => [l.job_id, l.error?.code ?? null])).toEqual([['gen-0', 'BAD_ROW'], ['gen-1', null]]);
    expect(lines[0]).toMatchObject({ model: 'fake', outputs: [], error: { message: `${file}:1: field 'length_penalty': only applies with useBeamSearch` }, metadata: { 'sluice.seq': '0' } });
  });

  it('names the model file that cannot be loaded', async () => {
    const file = input('one.jsonl', [{ prompt: 'a' }]);
    const failing = async () => {
      throw new ModelLoadError('MODEL_FILE_MISSING', '/models/none/config.json: required model file is missing', '/models/none/config.json');
    };
    await expect(generate(options(file), failing)).rejects.toThrow(expect.objectContaining({ exitCode: 5, message: 'cannot load the model: /models/none/config.json: required model file is missing' }));
  });
});
