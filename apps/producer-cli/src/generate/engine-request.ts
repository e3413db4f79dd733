// The one place a PromptJob becomes an engine request: the engine takes the job's sampling under its wire (vLLM) names.
import type { ChatMessage, SamplingParams as EngineSamplingParams, WireCompletionOutput, WireSamplingParams, WireUsage } from '@sluice/engine';
import { jobRequest } from '@sluice/engine/wire-format';
import type { CompletionOutput, PromptJob, SamplingParams, Usage } from '@sluice/schema';
import { engineSampling } from '../produce/engine-sampling';

// The schema's records are the engine's wire shapes (requests here, outputs in completion-record.ts), field for field:
// a schema change that parts them fails to compile here.
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Holds<T extends true> = T;
type _SchemaIsWire = Holds<Same<SamplingParams, WireSamplingParams>> | Holds<Same<CompletionOutput, WireCompletionOutput>> | Holds<Same<Usage, WireUsage>>;

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
