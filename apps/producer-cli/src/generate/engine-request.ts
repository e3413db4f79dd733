// The one place a PromptJob becomes an engine request: snake_case schema fields to camelCase engine parameters.
import { InvalidSamplingParamsError, SamplingParams, type ChatMessage, type SamplingParamsInit } from '@sluice/engine';
import type { PromptJob, SamplingParams as JobSampling } from '@sluice/schema';
import { RowError } from '../produce/row-error';

export type EngineInput = { prompt: string } | { messages: ChatMessage[] };

export interface EngineRequest {
  input: EngineInput;
  params: SamplingParamsInit;
  priority?: number;
}

// Every schema field but beam_width has an engine parameter of the same meaning; a new schema field fails to compile here.
const ENGINE_NAME: Record<Exclude<keyof JobSampling, 'beam_width'>, keyof SamplingParamsInit> = {
  n: 'n',
  best_of: 'bestOf',
  temperature: 'temperature',
  top_p: 'topP',
  top_k: 'topK',
  min_p: 'minP',
  seed: 'seed',
  presence_penalty: 'presencePenalty',
  frequency_penalty: 'frequencyPenalty',
  repetition_penalty: 'repetitionPenalty',
  stop: 'stop',
  stop_token_ids: 'stopTokenIds',
  include_stop_str_in_output: 'includeStopStrInOutput',
  ignore_eos: 'ignoreEos',
  max_tokens: 'maxTokens',
  min_tokens: 'minTokens',
  logprobs: 'logprobs',
  prompt_logprobs: 'promptLogprobs',
  skip_special_tokens: 'skipSpecialTokens',
  use_beam_search: 'useBeamSearch',
  length_penalty: 'lengthPenalty',
  early_stopping: 'earlyStopping',
};

const JOB_NAME = new Map<string, string>(Object.entries(ENGINE_NAME).map(([job, engine]) => [engine, job]));

/** The job's sampling parameters under the engine's names; throws RowError for what the engine cannot express. */
export function engineParams(sampling: JobSampling | null | undefined): SamplingParamsInit {
  const params: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(sampling ?? {})) {
    if (value === null || value === undefined) continue;
    if (name === 'beam_width') continue;
    if (name === 'early_stopping' && value === 'never') throw new RowError("field 'early_stopping': \"never\" is not supported by the engine (true or false)");
    params[ENGINE_NAME[name as keyof typeof ENGINE_NAME]] = value;
  }
  // The engine's beam width is best_of under beam search.
  const width = sampling?.beam_width;
  if (width !== null && width !== undefined) {
    if (params.bestOf !== undefined && params.bestOf !== width) throw new RowError(`field 'beam_width' (${width}) and field 'best_of' (${String(params.bestOf)}) disagree: the engine's beam width is best_of`);
    params.bestOf = width;
  }
  return params as SamplingParamsInit;
}

/** The job as an engine request, its parameters checked by the engine's own rules so a bad row fails before any compute. */
export function engineRequest(job: PromptJob): EngineRequest {
  const params = engineParams(job.sampling);
  try {
    new SamplingParams(params);
  } catch (err) {
    if (!(err instanceof InvalidSamplingParamsError)) throw err;
    const field = JOB_NAME.get(err.param) ?? err.param;
    throw new RowError(err.message.replace(`sampling parameter ${err.param}`, `field '${field}'`), { cause: err });
  }
  const input: EngineInput = job.messages ? { messages: job.messages.map(({ role, content }) => ({ role, content })) } : { prompt: job.prompt as string };
  return { input, params, ...(job.priority === null || job.priority === undefined ? {} : { priority: job.priority }) };
}
