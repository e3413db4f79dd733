// The flags that say how rows become jobs, shared by produce and generate: format, field mapping, id, priority.
import { Option, type Command } from 'commander';
import type { SamplingParams } from '@sluice/schema';
import { parseFormat } from './detect';
import type { InputFormat } from './input-row';
import type { MappingOptions } from '../produce/row-to-job';
import { integer } from '../cli-values';

export function addMappingFlags(command: Command): Command {
  return command
    .option('--format <format>', 'input format: jsonl, csv, parquet or openai (default: by extension, then content)')
    .option('--batch-id <id>', 'batch id (default: a new one, b-<utc time>-<random>)')
    .option('--prompt-field <name>', 'field holding the prompt text', 'prompt')
    .option('--messages-field <name>', 'field holding chat messages (a JSON array in CSV)', 'messages')
    .option('--id-field <name>', 'field holding the job id (default: job_id or custom_id when present, else <batch>-<row>)')
    .option('--params-field <name>', 'field holding per-row sampling parameters (an object; JSON in CSV)', 'sampling')
    .option('--metadata-fields <names>', "comma-separated fields copied into each job's metadata")
    .option('--no-strict', 'ignore row fields the mapping does not read (default: a row with an unknown field is a bad row, named with file, line and field)')
    .addOption(new Option('--priority <int>', 'priority for rows that give none (lower runs first)').argParser(integer(-2147483648, 2147483647)));
}

export function formatFromFlags(flags: Record<string, unknown>): InputFormat | undefined {
  return flags.format === undefined ? undefined : parseFormat(String(flags.format));
}

/** The mapping the flags describe; `defaults` adds what only one command has (a default model, a deadline). */
export function mappingFromFlags(flags: Record<string, unknown>, sampling: SamplingParams, defaults: { model?: string; deadline?: number } = {}): Omit<MappingOptions, 'format' | 'batchId'> {
  return {
    promptField: String(flags.promptField),
    messagesField: String(flags.messagesField),
    idField: flags.idField as string | undefined,
    modelField: String(flags.modelField ?? 'model'),
    paramsField: String(flags.paramsField),
    metadataFields: flags.metadataFields ? String(flags.metadataFields).split(',').map((s) => s.trim()).filter(Boolean) : [],
    strict: flags.strict !== false,
    defaults: { ...defaults, sampling, priority: flags.priority as number | undefined },
  };
}
