// The consumer's seam to the wire schema: record types and codecs from @sluice/schema, set up for this worker.
import {
  CompletionSchemas, DeadLetterSchemas, PromptJobSchemas, RecordCodec, SchemaRegistryClient, type Completion, type DeadLetter, type PromptJob,
} from '@sluice/schema';

export type { ChatMessage, Completion, CompletionOutput, DeadLetter, PromptJob, SamplingParams } from '@sluice/schema';
export { SchemaError } from '@sluice/schema';

export interface WireCodecs {
  jobs: RecordCodec<PromptJob>;
  completions: RecordCodec<Completion>;
  deadLetters: RecordCodec<DeadLetter>;
}

/**
 * Jobs are read in any wire format (single-object Avro, Confluent framing, JSON). Completions and dead letters are
 * written Confluent-framed under <topic>-value when a registry is configured, else as single-object Avro.
 */
export function wireCodecs(opts: { registryUrl?: string; resultsTopic: string; dlqTopic: string; jobsTopic: string }): WireCodecs {
  const registry = opts.registryUrl ? new SchemaRegistryClient({ url: opts.registryUrl }) : undefined;
  const subject = (topic: string) => (registry ? `${topic}-value` : undefined);
  return {
    jobs: new RecordCodec(PromptJobSchemas, { registry, subject: subject(opts.jobsTopic) }),
    completions: new RecordCodec(CompletionSchemas, { registry, subject: subject(opts.resultsTopic) }),
    deadLetters: new RecordCodec(DeadLetterSchemas, { registry, subject: subject(opts.dlqTopic) }),
  };
}
