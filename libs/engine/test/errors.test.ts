import { reviveError, serializeError } from '../src/async/error-transfer';
import {
  EngineError, EngineInvariantError, InvalidEngineOptionsError, InvalidSamplingParamsError, InvalidStructuredOutputError, RequestAbortedError,
  RequestRejectedError,
} from '../src/errors';
import { ModelLoadError } from '../src/model/model-load-error';
import { TokenizerError } from '../src/tokenizer/tokenizer-error';
import { UnsupportedSamplingParamError } from '../src/wire-format';

describe('the engine error root', () => {
  it('is the class of every engine error, each keeping its own name and code', () => {
    const errors: Array<[EngineError, string, string]> = [
      [new InvalidSamplingParamsError('topP', 'bad'), 'InvalidSamplingParamsError', 'INVALID_SAMPLING_PARAMS'],
      [new UnsupportedSamplingParamError('early_stopping', 'never'), 'UnsupportedSamplingParamError', 'INVALID_SAMPLING_PARAMS'],
      [new InvalidEngineOptionsError('blockSize', 'bad'), 'InvalidEngineOptionsError', 'INVALID_ENGINE_OPTIONS'],
      [new RequestRejectedError('r1', 'EMPTY_PROMPT', 'empty'), 'RequestRejectedError', 'REQUEST_REJECTED'],
      [new RequestAbortedError('r1'), 'RequestAbortedError', 'ABORTED'],
      [new InvalidStructuredOutputError('bad schema'), 'InvalidStructuredOutputError', 'INVALID_STRUCTURED_OUTPUT'],
      [new EngineInvariantError('broken'), 'EngineInvariantError', 'INTERNAL'],
      [new TokenizerError('CHAT_TEMPLATE_MISSING', 'no template'), 'TokenizerError', 'CHAT_TEMPLATE_MISSING'],
      [new ModelLoadError('MODEL_FILE_MISSING', 'no config.json', 'config.json'), 'ModelLoadError', 'MODEL_FILE_MISSING'],
    ];
    for (const [err, name, code] of errors) {
      expect(err).toBeInstanceOf(EngineError);
      expect(err).toBeInstanceOf(Error);
      expect({ name: err.name, code: err.code }).toEqual({ name, code });
    }
  });

  it('a structured-output error crosses the worker boundary as itself (the worker dead-letters it by its class)', () => {
    const back = reviveError(structuredClone(serializeError(new InvalidStructuredOutputError('the json constraint does not compile'))));
    expect(back).toBeInstanceOf(InvalidStructuredOutputError);
    expect(back).toMatchObject({ code: 'INVALID_STRUCTURED_OUTPUT', retriable: false, message: 'structured output: the json constraint does not compile' });
  });

  it('says an abort may succeed if run again, and nothing else does', () => {
    expect(new RequestAbortedError('r1').retriable).toBe(true);
    expect(new EngineError('ABORTED', 'shut down').retriable).toBe(true);
    const never = [
      new InvalidSamplingParamsError('n', 'bad'), new InvalidEngineOptionsError('x', 'bad'), new EngineError('INVALID_REQUEST', 'bad'),
      new EngineError('DUPLICATE_REQUEST', 'twice'), new RequestRejectedError('r', 'CANNOT_FIT_IN_CACHE', 'too big'), new EngineInvariantError('bug'),
      new TokenizerError('TOKENIZER_INVALID', 'bad'), new TokenizerError('CHAT_TEMPLATE_FAILED', 'raised'), new TokenizerError('TOKEN_ID_INVALID', 'bad'),
      new ModelLoadError('MODEL_TENSOR_SHAPE', 'bad', 'model.safetensors', 'lm_head.weight'), new InvalidStructuredOutputError('bad'),
    ];
    for (const err of never) expect({ code: err.code, retriable: err.retriable }).toEqual({ code: err.code, retriable: false });
  });
});
