import {
  EngineError as LibEngineError, InvalidSamplingParamsError, RequestAbortedError, RequestRejectedError, TokenizerError, SamplingParams, UnsupportedSamplingParamError, resultToWire,
  type AsyncEngineStats, type RequestOutput,
} from '@sluice/engine';
import { EngineError } from '../errors';
import { engineError, engineLoad, engineRequest, engineResult } from './llm-mapping';

describe('engineRequest', () => {
  it('carries the job id, the prompt or the chat messages (without names), the sampling under engine names, and the priority', () => {
    expect(engineRequest({ id: 'j1', prompt: 'hi', sampling: { max_tokens: 3, top_p: 0.5, temperature: null }, priority: -2 })).toEqual({
      id: 'j1', input: { prompt: 'hi' }, params: new SamplingParams({ maxTokens: 3, topP: 0.5 }), priority: -2,
    });
    expect(engineRequest({ id: 'j2', messages: [{ role: 'user', content: 'hey', name: 'ann' }], sampling: {} })).toEqual({
      id: 'j2', input: { messages: [{ role: 'user', content: 'hey' }] }, params: new SamplingParams({}), priority: undefined,
    });
    expect(engineRequest({ id: 'j3', prompt: 'hi', sampling: { use_beam_search: true, beam_width: 4, early_stopping: true, temperature: 0 } }).params).toEqual(
      new SamplingParams({ useBeamSearch: true, bestOf: 4, earlyStopping: true, temperature: 0 }),
    );
  });

  it.each([
    [{ beam_width: 4 }, { code: 'INVALID_JOB', deadLetterCode: 'INVALID_SAMPLING' }, /beam_width: applies only with use_beam_search/],
    [{ use_beam_search: true, beam_width: 4, best_of: 2 }, { code: 'INVALID_JOB', deadLetterCode: 'INVALID_SAMPLING' }, /disagree/],
    [{ use_beam_search: true, temperature: 0.5 }, { code: 'INVALID_JOB', deadLetterCode: 'INVALID_SAMPLING' }, /temperature: must be 0 with beam search/],
    [{ use_beam_search: true, early_stopping: 'never' as const }, { code: 'REJECTED' }, /"never" is not supported/],
  ])('refuses sampling %j: dead letter for what no engine runs, an error completion for what this one lacks', (sampling, fields, message) => {
    let refused: unknown;
    try {
      engineRequest({ id: 'j', prompt: 'x', sampling });
    } catch (err) {
      refused = engineError('j', err);
    }
    expect(refused).toBeInstanceOf(EngineError);
    expect(refused).toMatchObject(fields);
    expect((refused as Error).message).toMatch(message);
  });
});

describe('engineResult', () => {
  const out: RequestOutput = {
    requestId: 'j1',
    promptTokenIds: [1, 2, 3],
    outputs: [
      { index: 0, text: 'a b', tokenIds: [5, 6], cumulativeLogprob: -1.5, finishReason: 'stop', stopReason: 13, logprobs: [{ token: 5, logprob: -1 }] },
      { index: 1, text: 'c', tokenIds: [7], cumulativeLogprob: -2, finishReason: 'length' },
    ],
    finished: true,
    usage: { promptTokens: 3, completionTokens: 3, cachedPromptTokens: 0 },
    timings: { arrivalMs: 1000, firstScheduledMs: 1001, firstTokenMs: 1010, finishedMs: 1040 },
  };

  it('gives the engine\'s outputs and usage under the schema names, and timings relative to the engine taking the request', () => {
    expect(engineResult(out)).toEqual({ ...resultToWire(out), timings: { queued_ms: 1, first_token_ms: 10, total_ms: 40 } });
    expect(engineResult(out).usage).toEqual({ prompt_tokens: 3, completion_tokens: 3, cached_tokens: 0 });
    expect(engineResult(out).outputs[0]).toMatchObject({ token_ids: [5, 6], stop_reason: '13', logprobs: [{ token: 5, logprob: -1, top: [] }] });
    expect(engineResult({ ...out, timings: { arrivalMs: 1000 } }).timings).toEqual({ queued_ms: 0, first_token_ms: null, total_ms: 0 });
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
    [new UnsupportedSamplingParamError('early_stopping', '"never" is not supported'), 'REJECTED', undefined],
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
