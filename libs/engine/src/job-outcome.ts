// Which per-job outcome code (@sluice/schema's OUTCOMES table) an engine error is, for the worker and generate alike.
import type { OutcomeCode } from '@sluice/schema';
import { EngineError, InvalidSamplingParamsError, InvalidStructuredOutputError, RequestRejectedError } from './errors';
import { TokenizerError } from './tokenizer/tokenizer-error';
import { UnsupportedSamplingParamError } from './wire-format';

export interface JobOutcome {
  code: OutcomeCode;
  message: string;
}

/**
 * The outcome of a request the engine refused for what it is (input no engine could run, or a job this engine
 * cannot serve); undefined for an abort or a broken engine, which are no job's own outcome.
 */
export function jobOutcomeOf(err: unknown): JobOutcome | undefined {
  const as = (code: OutcomeCode): JobOutcome => ({ code, message: (err as Error).message });
  // A vLLM value this engine lacks is checked before the wider invalid-parameter class it extends.
  if (err instanceof UnsupportedSamplingParamError) return as('ENGINE_REJECTED');
  if (err instanceof InvalidSamplingParamsError) return as('INVALID_SAMPLING');
  if (err instanceof InvalidStructuredOutputError) return as('INVALID_STRUCTURED_OUTPUT');
  if (err instanceof RequestRejectedError) {
    if (err.reason === 'EXCEEDS_MAX_MODEL_LEN') return as('PROMPT_TOO_LARGE');
    if (err.reason === 'EMPTY_PROMPT') return as('SCHEMA_VIOLATION');
    return as('ENGINE_REJECTED');
  }
  if (err instanceof TokenizerError) {
    // No chat template is this model's limit; a template that raises (roles out of order...) is bad input.
    if (err.code === 'CHAT_TEMPLATE_MISSING') return as('ENGINE_REJECTED');
    if (err.code === 'CHAT_TEMPLATE_FAILED' || err.code === 'TOKEN_ID_INVALID') return as('SCHEMA_VIOLATION');
    return undefined;
  }
  if (err instanceof EngineError && (err.code === 'INVALID_REQUEST' || err.code === 'INVALID_SAMPLING_PARAMS')) return as('SCHEMA_VIOLATION');
  if (err instanceof EngineError && err.code === 'DUPLICATE_REQUEST') return as('ENGINE_REJECTED');
  return undefined;
}
