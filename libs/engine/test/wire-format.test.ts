import { InvalidSamplingParamsError } from '../src/errors';
import type { RequestOutput } from '../src/outputs';
import { SamplingParams } from '../src/sampling-params';
import { resultToWire, samplingParamsFromWire, UnsupportedSamplingParamError, type WireSamplingParams } from '../src/wire-format';

function refusal(wire: WireSamplingParams): InvalidSamplingParamsError {
  try {
    samplingParamsFromWire(wire);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidSamplingParamsError);
    return err as InvalidSamplingParamsError;
  }
  throw new Error(`accepted ${JSON.stringify(wire)}`);
}

describe('samplingParamsFromWire', () => {
  it('renames every vLLM parameter to the engine name, and the engine accepts the result', () => {
    const init = samplingParamsFromWire({
      n: 2, best_of: 3, temperature: 0.7, top_p: 0.9, top_k: 40, min_p: 0.05, seed: 7, presence_penalty: 0.1, frequency_penalty: 0.2,
      repetition_penalty: 1.1, stop: ['\n\n'], stop_token_ids: [2], include_stop_str_in_output: true, ignore_eos: false, max_tokens: 64,
      min_tokens: 1, logprobs: 2, prompt_logprobs: 1, skip_special_tokens: true,
    });
    expect(init).toBeInstanceOf(SamplingParams);
    expect(init).toEqual(new SamplingParams({
      n: 2, bestOf: 3, temperature: 0.7, topP: 0.9, topK: 40, minP: 0.05, seed: 7, presencePenalty: 0.1, frequencyPenalty: 0.2,
      repetitionPenalty: 1.1, stop: ['\n\n'], stopTokenIds: [2], includeStopStrInOutput: true, ignoreEos: false, maxTokens: 64,
      minTokens: 1, logprobs: 2, promptLogprobs: 1, skipSpecialTokens: true,
    }));
  });

  it('leaves null and absent parameters to the engine defaults', () => {
    expect(samplingParamsFromWire({ temperature: null, top_k: null, max_tokens: 8 })).toEqual(new SamplingParams({ maxTokens: 8 }));
    expect(samplingParamsFromWire({})).toEqual(new SamplingParams({}));
    expect(samplingParamsFromWire(null)).toEqual(new SamplingParams({}));
    expect(samplingParamsFromWire(undefined)).toEqual(new SamplingParams({}));
  });

  it('takes beam_width as the beam count (bestOf) and early_stopping true/false as it is', () => {
    const init = samplingParamsFromWire({ use_beam_search: true, beam_width: 4, early_stopping: true, length_penalty: 0.8, temperature: 0 });
    expect(init).toEqual(new SamplingParams({ useBeamSearch: true, bestOf: 4, earlyStopping: true, lengthPenalty: 0.8, temperature: 0 }));
    expect(samplingParamsFromWire({ use_beam_search: true, beam_width: 3, best_of: 3, temperature: 0 })).toEqual(new SamplingParams({ useBeamSearch: true, bestOf: 3, temperature: 0 }));
  });

  it.each([
    [{ beam_width: 4 }, 'beam_width', /beam_width: applies only with use_beam_search true/],
    [{ use_beam_search: true, beam_width: 4, best_of: 2 }, 'beam_width', /beam_width: 4 disagrees with best_of 2/],
    [{ use_beam_search: true, temperature: 0.7 }, 'temperature', /temperature: must be 0 with beam search, got 0.7/],
    [{ length_penalty: 2 }, 'length_penalty', /length_penalty: only applies with useBeamSearch/],
    [{ n: 3, best_of: 2 }, 'best_of', /best_of: must be >= n \(3\), got 2/],
    [{ use_beam_search: true, beam_width: 1, n: 2, temperature: 0 }, 'beam_width', /beam_width: must be >= n \(2\), got 1/],
    [{ max_tokens: 4, min_tokens: 8 }, 'min_tokens', /min_tokens: must be <= maxTokens/],
  ])('refuses %j naming the vLLM parameter %s', (wire, param, message) => {
    const err = refusal(wire);
    expect(err).not.toBeInstanceOf(UnsupportedSamplingParamError);
    expect(err.param).toBe(param);
    expect(err.message).toMatch(message);
  });

  it('tells a vLLM value this engine lacks (early_stopping "never") from an invalid one', () => {
    const err = refusal({ use_beam_search: true, early_stopping: 'never' });
    expect(err).toBeInstanceOf(UnsupportedSamplingParamError);
    expect(err).toMatchObject({ param: 'early_stopping', code: 'INVALID_SAMPLING_PARAMS', message: expect.stringContaining('"never" is not supported') });
  });
});

describe('resultToWire', () => {
  const out: RequestOutput = {
    requestId: 'j1',
    promptTokenIds: [1, 2, 3],
    outputs: [
      { index: 0, text: 'a b', tokenIds: [5, 6], cumulativeLogprob: -1.5, finishReason: 'stop', stopReason: 13, logprobs: [{ token: 5, logprob: -1 }, { token: 6, logprob: -0.5, top: [{ token: 6, logprob: -0.5 }] }] },
      { index: 1, text: 'c', tokenIds: [7], cumulativeLogprob: -2, finishReason: 'length' },
      { index: 2, text: 'd.', tokenIds: [8], cumulativeLogprob: -0.1, finishReason: 'stop', stopReason: '.' },
    ],
    finished: true,
    usage: { promptTokens: 3, completionTokens: 4, cachedPromptTokens: 2 },
    timings: { arrivalMs: 1000, firstScheduledMs: 1001, firstTokenMs: 1010, finishedMs: 1040 },
  };

  it('gives outputs (stop reasons as strings, every logprob with its top list) and usage under vLLM names', () => {
    expect(resultToWire(out)).toEqual({
      outputs: [
        { index: 0, text: 'a b', token_ids: [5, 6], finish_reason: 'stop', stop_reason: '13', cumulative_logprob: -1.5, logprobs: [{ token: 5, logprob: -1, top: [] }, { token: 6, logprob: -0.5, top: [{ token: 6, logprob: -0.5 }] }] },
        { index: 1, text: 'c', token_ids: [7], finish_reason: 'length', stop_reason: null, cumulative_logprob: -2, logprobs: null },
        { index: 2, text: 'd.', token_ids: [8], finish_reason: 'stop', stop_reason: '.', cumulative_logprob: -0.1, logprobs: null },
      ],
      usage: { prompt_tokens: 3, completion_tokens: 4, cached_tokens: 2 },
    });
  });
});
