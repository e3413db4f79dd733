import { METADATA_SEQ, SchemaError } from '@sluice/schema';
import { METADATA_KIND, rowToJob, type MappingOptions } from './row-to-job';
import { RowError } from './row-error';

const options: MappingOptions = {
  format: 'jsonl',
  batchId: 'b1',
  promptField: 'prompt',
  messagesField: 'messages',
  modelField: 'model',
  paramsField: 'sampling',
  metadataFields: [],
  defaults: { sampling: { temperature: 0.2, max_tokens: 16 } },
};

function reason(row: Record<string, unknown>, opts: Partial<MappingOptions> = {}): string {
  try {
    rowToJob(row, 0, { ...options, ...opts });
  } catch (err) {
    if (err instanceof RowError || err instanceof SchemaError) return err.message;
    throw err;
  }
  throw new Error('expected the row to be refused');
}

describe('rowToJob', () => {
  it('refuses a field it does not read, top-level or in an OpenAI line, naming it and the likely fix', () => {
    expect(reason({ prompt: 'x', temprature: 0.5 })).toBe("unknown field 'temprature' (did you mean 'temperature'?); --metadata-fields keeps it as metadata, --no-strict ignores unknown fields");
    expect(reason({ prompt: 'x', sampling: { temprature: 0.5 } })).toMatch(/temprature/);
    expect(reason({ custom_id: 'r', url: '/v1/completions', body: { prompt: 'x' }, methd: 'POST' }, { format: 'openai' })).toBe("unknown field 'methd' (did you mean 'method'?)");
    expect(reason({ prompt: 'x', category: 'a' })).toBe("unknown field 'category'; --metadata-fields keeps it as metadata, --no-strict ignores unknown fields");
    expect(rowToJob({ prompt: 'x', category: 'a' }, 0, { ...options, metadataFields: ['category'] }).metadata.category).toBe('a');
  });

  it('maps a prompt row, generating a deterministic id and recording seq and kind in metadata', () => {
    const job = rowToJob({ prompt: 'Hi', extra: 'ignored' }, 7, { ...options, strict: false });
    expect(job).toMatchObject({
      job_id: 'b1-7', batch_id: 'b1', prompt: 'Hi', messages: null, model: null,
      sampling: expect.objectContaining({ temperature: 0.2, max_tokens: 16 }),
      metadata: { [METADATA_SEQ]: '7', [METADATA_KIND]: 'text' },
    });
  });

  it('keeps job_id or custom_id, and an --id-field is required in every row', () => {
    expect(rowToJob({ job_id: 'mine', prompt: 'x' }, 0, options).job_id).toBe('mine');
    expect(rowToJob({ custom_id: 42, prompt: 'x' }, 0, options).job_id).toBe('42');
    expect(rowToJob({ uid: 'u-1', prompt: 'x' }, 0, { ...options, idField: 'uid' }).job_id).toBe('u-1');
    expect(reason({ prompt: 'x' }, { idField: 'uid' })).toBe("field 'uid' must be a non-empty string or number");
  });

  it('lets row parameters (top-level or nested) override the flag defaults', () => {
    const job = rowToJob({ prompt: 'x', temperature: 0.9, sampling: { top_k: 5, max_tokens: 3 } }, 0, options);
    expect(job.sampling).toMatchObject({ temperature: 0.9, top_k: 5, max_tokens: 3 });
  });

  it('converts CSV text: numbers, booleans, stop strings and JSON messages', () => {
    const job = rowToJob(
      { messages: '[{"role":"user","content":"hi"}]', temperature: '0.7', ignore_eos: 'true', stop: 'END', stop_token_ids: '1,2', seed: '', model: 'm' },
      3,
      { ...options, format: 'csv' },
    );
    expect(job.messages).toEqual([{ role: 'user', content: 'hi', name: null }]);
    expect(job.sampling).toMatchObject({ temperature: 0.7, ignore_eos: true, stop: ['END'], stop_token_ids: [1, 2], seed: null });
    expect(job.model).toBe('m');
    expect(job.metadata[METADATA_KIND]).toBe('chat');
  });

  it('follows field-mapping flags and copies metadata fields', () => {
    const job = rowToJob({ question: 'Why?', llm: 'big', topic: 'physics', n: 3, metadata: { src: 'x' } }, 0, {
      ...options, promptField: 'question', modelField: 'llm', metadataFields: ['topic', 'n'],
    });
    expect(job).toMatchObject({ prompt: 'Why?', model: 'big', metadata: { topic: 'physics', n: '3', src: 'x' } });
  });

  it.each([
    [{ prompt: '' }, "has no 'prompt' or 'messages'"],
    [{ prompt: 'x', temperature: 'hot' }, "field 'temperature': expected a number, got \"hot\""],
    [{ prompt: 'x', top_p: 1.5 }, "field 'sampling.top_p' must be <= 1, got 1.5"],
    [{ prompt: 'x', sampling: '{bad' }, "field 'sampling' is not valid JSON"],
    [{ prompt: 'x', sampling: { tempreture: 1 } }, "field 'sampling.tempreture' is not part of SamplingParams"],
    [{ prompt: 'x', messages: [{ role: 'user', content: 'y' }] }, 'and messages are both set'],
    [{ prompt: 'x', metadata: { a: 1 } }, "field 'metadata.a': expected a string, got number 1"],
  ])('refuses %j: %s', (row, message) => {
    expect(reason(row)).toContain(message);
  });

  it('maps OpenAI Batch chat and completion requests', () => {
    const chat = rowToJob(
      { custom_id: 'r1', method: 'POST', url: '/v1/chat/completions', body: { model: 'm', messages: [{ role: 'user', content: 'hi' }], max_completion_tokens: 5, logprobs: true, top_logprobs: 2, stop: 'x', user: 'u' } },
      0,
      { ...options, format: 'openai' },
    );
    expect(chat).toMatchObject({ job_id: 'r1', model: 'm', prompt: null, sampling: expect.objectContaining({ max_tokens: 5, logprobs: 2, stop: ['x'], temperature: 0.2 }), metadata: { [METADATA_KIND]: 'chat' } });
    const text = rowToJob({ custom_id: 'r2', method: 'POST', url: '/v1/completions', body: { prompt: 'once', logprobs: 3, top_k: 4 } }, 1, { ...options, format: 'openai' });
    expect(text).toMatchObject({ job_id: 'r2', prompt: 'once', sampling: expect.objectContaining({ logprobs: 3, top_k: 4 }), metadata: { [METADATA_KIND]: 'text' } });
  });

  it.each([
    [{ url: '/v1/chat/completions', body: {} }, "field 'custom_id' must be a non-empty string"],
    [{ custom_id: 'r', url: '/v1/embeddings', body: {} }, "field 'url' must be /v1/chat/completions or /v1/completions"],
    [{ custom_id: 'r', url: '/v1/completions', method: 'GET', body: { prompt: 'x' } }, "field 'method' must be POST"],
    [{ custom_id: 'r', url: '/v1/chat/completions', body: { messages: [], stream: true } }, "field 'body.stream' is not supported"],
    [{ custom_id: 'r', url: '/v1/chat/completions', body: { prompt: 'x' } }, "field 'body.prompt' does not belong to /v1/chat/completions"],
    [{ custom_id: 'r', url: '/v1/completions', body: { prompt: 'x', wat: 1 } }, "field 'body.wat' is not a known request parameter"],
  ])('refuses the OpenAI line %j: %s', (row, message) => {
    expect(reason(row, { format: 'openai' })).toContain(message);
  });

  // Rows the schema accepts but a worker's engine refuses (it would dead-letter or reject them): refused at produce, by the engine's rule.
  it.each([
    [{ prompt: 'x', use_beam_search: true, n: 2, temperature: 0 }, "field 'n': beam search returns bestOf beams"],
    [{ prompt: 'x', sampling: { use_beam_search: true, n: 2, best_of: 2, temperature: 0 } }, "field 'n': beam search returns bestOf beams"],
    [{ prompt: 'x', use_beam_search: true, temperature: 0.7 }, "field 'temperature': must be 0 with beam search"],
    [{ prompt: 'x', beam_width: 4 }, "field 'beam_width': applies only with use_beam_search true"],
    [{ prompt: 'x', use_beam_search: true, temperature: 0, beam_width: 4, best_of: 2 }, "field 'beam_width': 4 disagrees with best_of 2"],
    [{ prompt: 'x', use_beam_search: true, temperature: 0, early_stopping: 'never' }, "field 'early_stopping': \"never\" is not supported by this engine"],
    [{ prompt: 'x', length_penalty: 2 }, "field 'length_penalty': only applies with useBeamSearch"],
    [{ custom_id: 'r', url: '/v1/completions', body: { prompt: 'x', n: 2, use_beam_search: true, temperature: 0 } }, "field 'n': beam search returns bestOf beams", 'openai'],
  ])('refuses what the engine refuses: %j', (row, message, format = 'jsonl') => {
    expect(reason(row, { format: format as MappingOptions['format'] })).toContain(message);
  });

  it("maps OpenAI's response_format to the structured-output fields", () => {
    const schema = { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] };
    const line = (response_format: unknown) => ({ custom_id: 'r', url: '/v1/chat/completions', body: { messages: [{ role: 'user', content: 'hi' }], response_format } });
    const openai = { ...options, format: 'openai' as const };
    expect(rowToJob(line({ type: 'json_schema', json_schema: { name: 'n', schema, strict: true } }), 0, openai).sampling).toMatchObject({ guided_json: JSON.stringify(schema) });
    expect(rowToJob(line({ type: 'json_object' }), 0, openai).sampling).toMatchObject({ guided_json_object: true });
    expect(rowToJob(line({ type: 'text' }), 0, openai).sampling).toMatchObject({ guided_json: null, guided_json_object: null });
    expect(reason(line({ type: 'json_schema', json_schema: { name: 'n' } }), { format: 'openai' })).toContain("'body.response_format.json_schema.schema' must be a JSON Schema object");
    expect(reason(line({ type: 'grammar' }), { format: 'openai' })).toContain("'body.response_format.type' must be text, json_object or json_schema");
    const both = { custom_id: 'r', url: '/v1/completions', body: { prompt: 'x', response_format: { type: 'json_object' }, guided_json_object: true } };
    expect(reason(both, { format: 'openai' })).toContain("'body.guided_json_object' and 'body.response_format' both ask for structured output");
  });

  it('takes guided_* parameters in native rows (guided_json as an object or its text) and refuses what the engine refuses', () => {
    const schema = { type: 'array', items: { type: 'string' } };
    expect(rowToJob({ prompt: 'x', guided_json: schema }, 0, options).sampling).toMatchObject({ guided_json: JSON.stringify(schema) });
    expect(rowToJob({ prompt: 'x', sampling: { guided_json: schema } }, 0, options).sampling).toMatchObject({ guided_json: JSON.stringify(schema) });
    expect(rowToJob({ prompt: 'x', guided_choice: ['a', 'b'] }, 0, options).sampling).toMatchObject({ guided_choice: ['a', 'b'] });
    expect(reason({ prompt: 'x', guided_regex: 'a+', guided_choice: ['a'] })).toContain("field 'guided_choice': only one structured-output constraint per request");
    expect(reason({ prompt: 'x', guided_json: '{"type":' })).toContain('the JSON schema is not JSON');
    expect(reason({ prompt: 'x', guided_regex: 'a'.repeat(70_000) })).toContain('more than 65536');
  });

  it('accepts beam search as the engine takes it', () => {
    expect(rowToJob({ prompt: 'x', use_beam_search: true, best_of: 3, temperature: 0 }, 0, options).sampling).toMatchObject({ use_beam_search: true, best_of: 3 });
  });
});
