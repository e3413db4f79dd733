// Default sampling parameters from command-line flags: one flag per schema field, validated with the engine's rules.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { SchemaError, validateSamplingParams, type SamplingParams } from '@sluice/schema';
import { usageError } from '../errors';
import { engineSampling } from './engine-sampling';
import { RowError } from './row-error';
import { parseSamplingText, SAMPLING_FIELDS, type SamplingField } from './sampling-fields';

export function flagName(field: SamplingField): string {
  return field.name.replace(/_/g, '-');
}

function placeholder(field: SamplingField): string {
  switch (field.kind) {
    case 'boolean':
      return '<true|false>';
    case 'early_stopping':
      return '<true|false|never>';
    case 'string':
    case 'string[]':
      return '<text>';
    case 'int[]':
      return '<ids>';
    default:
      return field.kind === 'double' ? '<number>' : '<int>';
  }
}

function optionKey(field: SamplingField): string {
  return field.name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Adds `--temperature`, `--top-p`, ... (`--stop` may repeat) to `command`. */
export function addSamplingFlags(command: Command): Command {
  for (const field of SAMPLING_FIELDS) {
    const flag = `--${flagName(field)} ${placeholder(field)}`;
    const doc = `default ${field.name}: ${field.doc}${field.kind === 'string[]' ? ' Repeat the flag for several.' : ''}${field.kind === 'int[]' ? ' Comma-separated.' : ''}`;
    if (field.kind === 'string[]') command.option(flag, doc, (v: string, prev: string[] = []) => [...prev, v]);
    else command.option(flag, doc);
  }
  return command;
}

// `--guided-json @schema.json` reads the schema from a file (curl's convention); other text is the value itself.
function flagText(field: SamplingField, raw: string): string {
  if (field.name !== 'guided_json' || !raw.startsWith('@')) return raw;
  try {
    return readFileSync(raw.slice(1), 'utf8');
  } catch (err) {
    throw new Error(`cannot read the schema file ${raw.slice(1)} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** The sampling flags given on the command line, converted and validated; errors name the flag. */
export function samplingFromFlags(options: Record<string, unknown>): SamplingParams {
  const params: Record<string, unknown> = {};
  for (const field of SAMPLING_FIELDS) {
    const raw = options[optionKey(field)];
    if (raw === undefined) continue;
    try {
      params[field.name] = Array.isArray(raw) ? raw : parseSamplingText(field, flagText(field, String(raw)));
    } catch (err) {
      throw usageError(`--${flagName(field)}: ${(err as Error).message}`);
    }
  }
  try {
    validateSamplingParams(params as SamplingParams, '');
  } catch (err) {
    if (!(err instanceof SchemaError) || !err.field) throw err;
    const name = err.field.replace(/\[\d+\]$/, '');
    throw usageError(err.message.replace(`field '${err.field}'`, `--${name.replace(/_/g, '-')}`));
  }
  try {
    engineSampling(params as SamplingParams);
  } catch (err) {
    if (!(err instanceof RowError)) throw err;
    throw usageError(err.message.replace(/^field '(\w+)'/, (_, name: string) => `--${name.replace(/_/g, '-')}`));
  }
  return params as SamplingParams;
}
