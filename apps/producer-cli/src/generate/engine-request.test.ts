import type { PromptJob } from '@sluice/schema';
import { engineParams, engineRequest } from './engine-request';

const job = (over: Partial<PromptJob>): PromptJob => ({ job_id: 'j', batch_id: 'b', prompt: 'hi', metadata: {}, created_at: 0, ...over });

describe('engine requests from jobs', () => {
  it('renames every parameter to the engine camelCase name and leaves nulls out', () => {
    expect(engineParams({ max_tokens: 4, top_p: 0.5, top_k: null, stop: ['x'], stop_token_ids: [1], include_stop_str_in_output: true, presence_penalty: 0.1, repetition_penalty: 1.1, min_p: 0.05, prompt_logprobs: 1, skip_special_tokens: false, seed: 3 })).toEqual({
      maxTokens: 4, topP: 0.5, stop: ['x'], stopTokenIds: [1], includeStopStrInOutput: true, presencePenalty: 0.1, repetitionPenalty: 1.1, minP: 0.05, promptLogprobs: 1, skipSpecialTokens: false, seed: 3,
    });
    expect(engineParams(null)).toEqual({});
  });

  it('takes beam_width as the engine beam width (best_of)', () => {
    expect(engineParams({ use_beam_search: true, beam_width: 4, temperature: 0, early_stopping: true })).toEqual({ useBeamSearch: true, bestOf: 4, temperature: 0, earlyStopping: true });
    expect(() => engineParams({ beam_width: 4, best_of: 2 })).toThrow("field 'beam_width' (4) and field 'best_of' (2) disagree");
    expect(() => engineParams({ use_beam_search: true, early_stopping: 'never' })).toThrow("field 'early_stopping': \"never\" is not supported by the engine");
  });

  it('builds a text or chat input with the priority', () => {
    expect(engineRequest(job({ prompt: 'hello', priority: 2, sampling: { max_tokens: 3 } }))).toEqual({ input: { prompt: 'hello' }, params: { maxTokens: 3 }, priority: 2 });
    expect(engineRequest(job({ prompt: null, messages: [{ role: 'user', content: 'q', name: null }] }))).toEqual({ input: { messages: [{ role: 'user', content: 'q' }] }, params: {} });
  });

  it('refuses parameters the engine refuses, naming the job field', () => {
    expect(() => engineRequest(job({ sampling: { temperature: 0.7, use_beam_search: true } }))).toThrow(/^field 'temperature': must be 0 with beam search/);
    expect(() => engineRequest(job({ sampling: { length_penalty: 2 } }))).toThrow("field 'length_penalty': only applies with useBeamSearch");
  });
});
