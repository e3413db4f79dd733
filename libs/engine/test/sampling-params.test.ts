import { SAMPLING_API_NAMES } from '@sluice/schema/sampling-parameters';
import { InvalidSamplingParamsError } from '../src/errors';
import { SamplingParams, SamplingParamsInit } from '../src/sampling-params';

function rejects(init: object, param: string, message: RegExp): void {
  let error: unknown;
  try {
    new SamplingParams(init as SamplingParamsInit);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(InvalidSamplingParamsError);
  const e = error as InvalidSamplingParamsError;
  expect(e.param).toBe(param);
  expect(e.code).toBe('INVALID_SAMPLING_PARAMS');
  expect(e.message).toMatch(message);
}

describe('SamplingParams', () => {
  it("has vLLM's defaults", () => {
    const p = new SamplingParams();
    expect(p).toMatchObject({
      n: 1, bestOf: 1, temperature: 1, topP: 1, topK: 0, minP: 0, seed: undefined, presencePenalty: 0, frequencyPenalty: 0,
      repetitionPenalty: 1, stop: [], stopTokenIds: [], includeStopStrInOutput: false, ignoreEos: false, maxTokens: 16,
      minTokens: 0, logprobs: undefined, promptLogprobs: undefined, skipSpecialTokens: true, useBeamSearch: false,
    });
  });

  it("accepts vLLM's snake_case names as well as camelCase", () => {
    const p = new SamplingParams({ max_tokens: 5, top_p: 0.5, stop_token_ids: [3], n: 2, best_of: 3 } as SamplingParamsInit);
    expect(p).toMatchObject({ maxTokens: 5, topP: 0.5, stopTokenIds: [3], n: 2, bestOf: 3 });
    rejects({ maxTokens: 5, max_tokens: 6 }, 'maxTokens', /given twice/);
    rejects({ max_token: 5 }, 'max_token', /is not a sampling parameter/);
  });

  it('takes every two-word parameter of the sampling table under its wire name too, and both names at once as given twice', () => {
    for (const [wire, api] of SAMPLING_API_NAMES.filter(([wire, api]) => wire !== api)) {
      rejects({ [api]: null, [wire]: null }, api, new RegExp(`given twice \\(as ${api} and ${wire}\\)`));
    }
    rejects({ beam_width: 2 }, 'beam_width', /is not a sampling parameter/);
  });

  it('normalises a single stop string and greedy sampling', () => {
    const p = new SamplingParams({ stop: 'END', temperature: 0, topP: 0.3, topK: 5, minP: 0.2 });
    expect(p.stop).toEqual(['END']);
    expect(p).toMatchObject({ temperature: 0, topP: 1, topK: 0, minP: 0 });
    expect(new SamplingParams({ topK: -1 }).topK).toBe(0);
    expect(new SamplingParams({ temperature: 1e-7 }).temperature).toBe(0);
  });

  it.each<[object, string, RegExp]>([
    [{ temperature: -0.1 }, 'temperature', />= 0, got -0.1/],
    [{ temperature: Number.NaN }, 'temperature', /finite number/],
    [{ topP: 0 }, 'topP', /\(0, 1\], got 0/],
    [{ topP: 1.5 }, 'topP', /\(0, 1\]/],
    [{ topK: -2 }, 'topK', /integer >= -1/],
    [{ topK: 1.5 }, 'topK', /integer/],
    [{ minP: 1.2 }, 'minP', /\[0, 1\]/],
    [{ n: 0 }, 'n', /integer >= 1, got 0/],
    [{ n: 3, bestOf: 2 }, 'bestOf', /must be >= n \(3\), got 2/],
    [{ seed: 1.5 }, 'seed', /integer/],
    [{ presencePenalty: 2.5 }, 'presencePenalty', /\[-2, 2\]/],
    [{ frequencyPenalty: -3 }, 'frequencyPenalty', /\[-2, 2\]/],
    [{ repetitionPenalty: 0 }, 'repetitionPenalty', /> 0/],
    [{ stop: [''] }, 'stop', /non-empty/],
    [{ stop: 3 }, 'stop', /non-empty string/],
    [{ stopTokenIds: [1, -1] }, 'stopTokenIds', /token ids/],
    [{ ignoreEos: 'yes' }, 'ignoreEos', /true or false/],
    [{ maxTokens: 0 }, 'maxTokens', /integer >= 1/],
    [{ minTokens: 5, maxTokens: 4 }, 'minTokens', /<= maxTokens \(4\), got 5/],
    [{ logprobs: -1 }, 'logprobs', /integer >= 0/],
    [{ promptLogprobs: 0.5 }, 'promptLogprobs', /integer/],
    [{ skipSpecialTokens: 1 }, 'skipSpecialTokens', /true or false/],
    [{ lengthPenalty: 2 }, 'lengthPenalty', /only applies with useBeamSearch/],
    [{ earlyStopping: true }, 'earlyStopping', /only applies with useBeamSearch/],
    [{ useBeamSearch: true, temperature: 0.7 }, 'temperature', /must be 0 with beam search/],
    [{ useBeamSearch: true, n: 2 }, 'n', /set bestOf/],
  ])('rejects %j naming %s', (init, param, message) => rejects(init, param, message));

  it('takes beam search parameters, greedy by default, with bestOf as the beam width', () => {
    const p = new SamplingParams({ useBeamSearch: true, bestOf: 4, lengthPenalty: 0.8, earlyStopping: true });
    expect(p).toMatchObject({ temperature: 0, beamWidth: 4, lengthPenalty: 0.8, earlyStopping: true });
  });

  it('crosses a thread boundary as checked values and comes back whole, without checking again', () => {
    const sp = new SamplingParams({ n: 2, bestOf: 3, temperature: 0.5, stop: 'x', logprobs: 1 });
    const back = SamplingParams.revive(structuredClone(sp.toChecked()));
    expect(back).toBeInstanceOf(SamplingParams);
    expect(back).toEqual(sp);
    expect(back.beamWidth).toBe(3);
  });

  it('rejects a non-object', () => {
    expect(() => new SamplingParams(null as unknown as SamplingParamsInit)).toThrow(InvalidSamplingParamsError);
  });
});
