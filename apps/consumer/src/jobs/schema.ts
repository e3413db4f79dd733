// The consumer's seam to the wire schema: record types and codecs from @sluice/schema, set up for this worker.
import { CompletionSchemas, DeadLetterSchemas, RecordCodec, SchemaRegistryClient, type Completion, type DeadLetter } from '@sluice/schema';

export type { ChatMessage, Completion, CompletionOutput, DeadLetter, PromptJob, SamplingParams } from '@sluice/schema';
export { SchemaError } from '@sluice/schema';

export interface WireCodecs {
  /** Where jobs' Confluent writer schemas come from; the jobs codec itself runs in the decode thread (JobDecoder). */
  registry?: SchemaRegistryClient;
  completions: RecordCodec<Completion>;
  deadLetters: RecordCodec<DeadLetter>;
}

/**
 * Completions and dead letters are written Confluent-framed under <topic>-value when a registry is configured, else as
 * single-object Avro. Jobs are read by JobDecoder, in any wire format, through the same registry.
 */
export function wireCodecs(opts: { registryUrl?: string; resultsTopic: string; dlqTopic: string }): WireCodecs {
  const registry = opts.registryUrl ? new SchemaRegistryClient({ url: opts.registryUrl }) : undefined;
  const subject = (topic: string) => (registry ? `${topic}-value` : undefined);
  return {
    registry,
    completions: new RecordCodec(CompletionSchemas, { registry, subject: subject(opts.resultsTopic) }),
    deadLetters: new RecordCodec(DeadLetterSchemas, { registry, subject: subject(opts.dlqTopic) }),
  };
}
