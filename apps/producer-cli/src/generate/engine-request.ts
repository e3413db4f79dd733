// The one place a PromptJob becomes an engine request: the engine takes the job's sampling under its wire (vLLM) names.
import type { ChatMessage, SamplingParams as EngineSamplingParams } from '@sluice/engine';
import { jobRequest } from '@sluice/engine/wire-format';
import type { PromptJob } from '@sluice/schema';
import { engineSampling } from '../produce/engine-sampling';

export type EngineInput = { prompt: string } | { messages: ChatMessage[] };

export interface EngineRequest {
  input: EngineInput;
  /** Built and checked once here; the engine's thread takes it as it is. */
  params: EngineSamplingParams;
  priority?: number;
}

/**
 * The job as an engine request, by the one mapping the worker uses too (@sluice/engine's jobRequest); its parameters
 * checked first by the engine's own rules as a RowError, so a bad row fails before any compute.
 */
export function engineRequest(job: PromptJob): EngineRequest {
  return jobRequest(job, engineSampling(job.sampling));
}
