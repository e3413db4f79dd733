import { SamplingParams } from '@sluice/engine/wire-format';
import type { PromptJob } from '@sluice/schema';
import { engineRequest } from './engine-request';
import { RowError } from '../produce/row-error';

const job = (over: Partial<PromptJob>): PromptJob => ({ job_id: 'j', batch_id: 'b', prompt: 'hi', metadata: {}, created_at: 0, ...over });

describe('engine requests from jobs', () => {
  it('gives the engine the sampling under its names, nulls left to its defaults', () => {
    expect(engineRequest(job({ sampling: { max_tokens: 4, top_p: 0.5, top_k: null, stop: ['x'], seed: 3 } })).params).toEqual(new SamplingParams({ maxTokens: 4, topP: 0.5, stop: ['x'], seed: 3 }));
    expect(engineRequest(job({ sampling: { use_beam_search: true, beam_width: 4, temperature: 0, early_stopping: true } })).params).toEqual(new SamplingParams({ useBeamSearch: true, bestOf: 4, temperature: 0, earlyStopping: true }));
    expect(engineRequest(job({ sampling: null })).params).toEqual(new SamplingParams({}));
  });

  it('builds a text or chat input with the priority', () => {
    expect(engineRequest(job({ prompt: 'hello', priority: 2, sampling: { max_tokens: 3 } }))).toEqual({ input: { prompt: 'hello' }, params: new SamplingParams({ maxTokens: 3 }), priority: 2 });
    expect(engineRequest(job({ prompt: null, messages: [{ role: 'user', content: 'q', name: null }] }))).toEqual({ input: { messages: [{ role: 'user', content: 'q' }] }, params: new SamplingParams({}) });
  });

  it.each([
    [{ temperature: 0.7, use_beam_search: true }, /^field 'temperature': must be 0 with beam search/],
    [{ length_penalty: 2 }, /^field 'length_penalty': only applies with useBeamSearch/],
    [{ use_beam_search: true, beam_width: 4, best_of: 2 }, /^field 'beam_width': 4 disagrees with best_of 2/],
    [{ beam_width: 4 }, /^field 'beam_width': applies only with use_beam_search true/],
    [{ use_beam_search: true, early_stopping: 'never' as const }, /^field 'early_stopping': "never" is not supported by this engine/],
  ])('refuses %j as a row error naming the job field', (sampling, message) => {
    expect(() => engineRequest(job({ sampling }))).toThrow(RowError);
    expect(() => engineRequest(job({ sampling }))).toThrow(message);
  });
});
