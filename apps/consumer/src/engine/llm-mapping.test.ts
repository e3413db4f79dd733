import {
  EngineError as LibEngineError, InvalidSamplingParamsError, RequestAbortedError, RequestRejectedError, SamplingParams, TokenizerError, type AsyncEngineStats, type RequestOutput,
} from '@sluice/engine';
import { EngineError, InvalidJobError } from '../errors';
import { engineError, engineLoad, engineRequest, engineResult, samplingInit } from './llm-mapping';

describe('samplingInit', () => {
  it('renames every schema parameter to the engine name, and the engine accepts the result', () => {
    const init = samplingInit({
      n: 2, best_of: 3, temperature: 0.7, top_p: 0.9, top_k: 40, min_p: 0.05, seed: 7, presence_penalty: 0.1, frequency_penalty: 0.2,
      repetition_penalty: 1.1, stop: ['\n\n'], stop_token_ids: [2], include_stop_str_in_output: true, ignore_eos: false, max_tokens: 64,
      min_tokens: 1, logprobs: 2, prompt_logprobs: 1, skip_special_tokens: true,
    });
    expect(init).toEqual({
      n: 2, bestOf: 3, temperature: 0.7, topP: 0.9, topK: 40, minP: 0.05, seed: 7, presencePenalty: 0.1, frequencyPenalty: 0.2,
      repetitionPenalty: 1.1, stop: ['\n\n'], stopTokenIds: [2], includeStopStrInOutput: true, ignoreEos: false, maxTokens: 64,
      minTokens: 1, logprobs: 2, promptLogprobs: 1, skipSpecialTokens: true,
    });
    expect(() => new SamplingParams(init)).not.toThrow();
  });

  it('leaves null and absent parameters to the engine defaults', () => {
    expect(samplingInit({ temperature: null, max_tokens: 8 })).toEqual({ maxTokens: 8 });
    expect(samplingInit({})).toEqual({});
  });

  it('maps beam search: beam_width is the beam count (bestOf), early_stopping true/false carries over', () => {
    const init = samplingInit({ use_beam_search: true, beam_width: 4, early_stopping: true, length_penalty: 0.8, temperature: 0 });
    expect(init).toEqual({ useBeamSearch: true, bestOf: 4, earlyStopping: true, lengthPenalty: 0.8, temperature: 0 });
    expect(() => new SamplingParams(init)).not.toThrow();
  });

  it.each([
    [{ beam_width: 4 }, InvalidJobError, /beam_width applies only with sampling.use_beam_search/],
    [{ use_beam_search: true, beam_width: 4, best_of: 2 }, InvalidJobError, /disagree/],
    [{ use_beam_search: true, early_stopping: 'never' as const }, EngineError, /"never" is not supported/],
  ])('refuses %j', (s, cls, message) => {
    expect(() => samplingInit(s)).toThrow(cls);
    expect(() => samplingInit(s)).toThrow(message);
  });

  it('marks beam parameters that cannot be run as invalid (dead letter) and "never" as unservable (error completion)', () => {
    expect(() => samplingInit({ beam_width: 2 })).toThrow(expect.objectContaining({ deadLetterCode: 'INVALID_SAMPLING' }));
    expect(() => samplingInit({ early_stopping: 'never' })).toThrow(expect.objectContaining({ code: 'REJECTED' }));
  });
});

describe('engineRequest', () => {
  it('carries the job id, the prompt or the chat messages (without names), and the priority', () => {
    expect(engineRequest({ id: 'j1', prompt: 'hi', sampling: { max_tokens: 3 }, priority: -2 })).toEqual({ id: 'j1', input: { prompt: 'hi' }, params: { maxTokens: 3 }, priority: -2 });
    expect(engineRequest({ id: 'j2', messages: [{ role: 'user', content: 'hey', name: 'ann' }], sampling: {} })).toEqual({
      id: 'j2', input: { messages: [{ role: 'user', content: 'hey' }] }, params: {}, priority: undefined,
    });
  });
});

describe('engineResult', () => {
  const out: RequestOutput = {
    requestId: 'j1',
    promptTokenIds: [1, 2, 3],
    outputs: [
      { index: 0, text: 'a b', tokenIds: [5, 6], cumulativeLogprob: -1.5, finishReason: 'stop', stopReason: 13, logprobs: [{ token: 5, logprob: -1 }, { token: 6, logprob: -0.5, top: [{ token: 6, logprob: -0.5 }] }] },
      { index: 1, text: 'c', tokenIds: [7], cumulativeLogprob: -2, finishReason: 'length' },
    ],
    finished: true,
    usage: { promptTokens: 3, completionTokens: 3, cachedPromptTokens: 0 },
    timings: { arrivalMs: 1000, firstScheduledMs: 1001, firstTokenMs: 1010, finishedMs: 1040 },
  };

  it('maps outputs, usage and timings (relative to the engine taking the request) to the Completion shape', () => {
    expect(engineResult(out)).toEqual({
      outputs: [
        { index: 0, text: 'a b', token_ids: [5, 6], finish_reason: 'stop', stop_reason: '13', cumulative_logprob: -1.5, logprobs: [{ token: 5, logprob: -1, top: [] }, { token: 6, logprob: -0.5, top: [{ token: 6, logprob: -0.5 }] }] },
        { index: 1, text: 'c', token_ids: [7], finish_reason: 'length', stop_reason: null, cumulative_logprob: -2, logprobs: null },
      ],
      usage: { prompt_tokens: 3, completion_tokens: 3 },
      firstTokenMs: 10,
      totalMs: 40,
    });
  });
});

describe('engineLoad', () => {
  it('reads running, waiting (swapped included), queued and the KV cache from the stats snapshot', () => {
    const stats = { running: 3, waiting: 4, swapped: 1, queued: 2, freeBlocks: 10, totalBlocks: 40, kvCacheUsage: 0.75 } as AsyncEngineStats;
    expect(engineLoad(stats)).toEqual({ running: 3, waiting: 5, queued: 2, freeKvBlocks: 10, totalKvBlocks: 40, kvUsage: 0.75 });
  });
});

describe('engineError', () => {
  it.each([
    [new InvalidSamplingParamsError('logprobs', 'must be <= 20, got 50'), 'INVALID_JOB', 'INVALID_SAMPLING'],
    [new RequestRejectedError('j', 'EXCEEDS_MAX_MODEL_LEN', 'prompt + maxTokens exceeds 2048'), 'INVALID_JOB', 'PROMPT_TOO_LARGE'],
    [new RequestRejectedError('j', 'EMPTY_PROMPT', 'the prompt has no tokens'), 'INVALID_JOB', 'SCHEMA_VIOLATION'],
    [new TokenizerError('CHAT_TEMPLATE_FAILED', 'roles must alternate'), 'INVALID_JOB', 'SCHEMA_VIOLATION'],
    [new LibEngineError('INVALID_REQUEST', 'priority must be finite'), 'INVALID_JOB', 'SCHEMA_VIOLATION'],
    [new RequestRejectedError('j', 'CANNOT_FIT_IN_CACHE', 'needs 95 blocks; the cache has 64'), 'REJECTED', undefined],
    [new TokenizerError('CHAT_TEMPLATE_MISSING', 'no chat template'), 'REJECTED', undefined],
    [new LibEngineError('DUPLICATE_REQUEST', 'already running'), 'REJECTED', undefined],
    [new RequestAbortedError('j'), 'ABORTED', undefined],
    [new LibEngineError('INTERNAL', 'engine worker crashed'), 'ENGINE_FAILED', undefined],
    [new Error('something else'), 'ENGINE_FAILED', undefined],
  ])('%s → %s %s', (err, code, deadLetterCode) => {
    const mapped = engineError('j', err);
    expect(mapped).toBeInstanceOf(EngineError);
    expect(mapped).toMatchObject({ code, ...(deadLetterCode ? { deadLetterCode } : {}) });
    expect((mapped as Error).cause).toBe(err);
    expect(mapped.message.length).toBeGreaterThan(0);
  });

  it('passes the consumer\'s own engine errors through', () => {
    const own = new EngineError('REJECTED', 'x');
    expect(engineError('j', own)).toBe(own);
  });
});
