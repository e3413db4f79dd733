// The record types Sluice puts on the wire, each with every schema version it can read.
import { loadFamily } from './schema-files';
import { validatePromptJob } from './prompt-job-rules';
import type { BatchManifest, Completion, DeadLetter, PromptJob } from './types';

export const PromptJobSchemas = loadFamily<PromptJob>('PromptJob', 'prompt-job', 3, {
  validate: validatePromptJob,
  jsonDefaults: () => ({ created_at: Date.now() }),
});
export const CompletionSchemas = loadFamily<Completion>('Completion', 'completion', 2);
export const DeadLetterSchemas = loadFamily<DeadLetter>('DeadLetter', 'dead-letter', 2);
export const BatchManifestSchemas = loadFamily<BatchManifest>('BatchManifest', 'batch-manifest', 1);
