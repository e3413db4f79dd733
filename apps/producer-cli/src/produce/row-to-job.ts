// Maps one input row to a PromptJob: field mapping, per-row parameters over the flag defaults, ids, metadata.
import { METADATA_SEQ, PromptJobSchemas, recordFromPlain, SchemaError, type PromptJob, type SamplingParams } from '@sluice/schema';
import type { InputFormat } from '../input/input-row';
import { engineSampling } from './engine-sampling';
import { openAiJobFields, OPENAI_CHAT_URL } from './openai-request';
import { guidedJsonText } from './response-format';
import { RowError } from './row-error';
import { checkRowFields, knownFields } from './row-fields';
import { parseSamplingText, SAMPLING_FIELDS } from './sampling-fields';

/** Metadata key telling collect whether a job was a chat (`chat`) or a plain completion (`text`). */
export const METADATA_KIND = 'sluice.kind';
/** Metadata key set to `openai` on jobs read from an OpenAI Batch API input file: collect then answers in that format. */
export const METADATA_INPUT_FORMAT = 'sluice.input_format';

export interface MappingOptions {
  format: InputFormat;
  batchId: string;
  promptField: string;
  messagesField: string;
  /** When set, every row must carry its id in this field; otherwise job_id, then custom_id, then a generated id. */
  idField?: string;
  modelField: string;
  /** A per-row object of sampling parameters (JSON text in CSV). Top-level fields named like a parameter count too. */
  paramsField: string;
  metadataFields: readonly string[];
  /** Refuse a row with a field the mapping does not read (default); false ignores such fields. */
  strict?: boolean;
  defaults: { model?: string; sampling: SamplingParams; priority?: number; deadline?: number };
}

function present(value: unknown): boolean {
  return value !== undefined && value !== null && value !== '';
}

// CSV cells are text: a field that should be JSON (messages, a params object) is parsed here.
function structured(value: unknown, field: string): unknown {
  if (typeof value !== 'string') return value;
  const t = value.trim();
  if (!t.startsWith('{') && !t.startsWith('[')) return value;
  try {
    return JSON.parse(t);
  } catch (err) {
    throw new RowError(`field '${field}' is not valid JSON: ${(err as Error).message}`);
  }
}

function rowSampling(row: Record<string, unknown>, paramsField: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of SAMPLING_FIELDS) {
    const value = row[field.name];
    if (!present(value)) continue;
    try {
      out[field.name] = typeof value === 'string' ? parseSamplingText(field, value) : value;
    } catch (err) {
      throw new RowError(`field '${field.name}': ${(err as Error).message}`);
    }
  }
  const nested = structured(row[paramsField], paramsField);
  if (present(nested)) {
    if (typeof nested !== 'object' || Array.isArray(nested)) throw new RowError(`field '${paramsField}' must be an object of sampling parameters`);
    Object.assign(out, nested);
  }
  return guidedJsonText(out);
}

function idText(value: unknown, field: string): string {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string' || value.trim() === '') throw new RowError(`field '${field}' must be a non-empty string or number`);
  return value;
}

function metadataOf(row: Record<string, unknown>, options: MappingOptions): Record<string, string> {
  const out: Record<string, string> = {};
  const given = structured(row.metadata, 'metadata');
  if (present(given)) {
    if (typeof given !== 'object' || Array.isArray(given)) throw new RowError("field 'metadata' must be an object of strings");
    Object.assign(out, given);
  }
  for (const name of options.metadataFields) {
    const value = row[name];
    if (value !== undefined && value !== null) out[name] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return out;
}

/** The row as a checked PromptJob; `seq` is its 0-based position among the file's rows. Throws RowError or SchemaError. */
export function rowToJob(row: Record<string, unknown>, seq: number, options: MappingOptions, known: Set<string> = knownFields(options)): PromptJob {
  if (options.strict !== false) checkRowFields(row, known, options.format === 'openai');
  let jobId: string;
  let model: unknown;
  let prompt: unknown;
  let messages: unknown;
  let sampling: Record<string, unknown>;
  let kind: 'chat' | 'text';
  if (options.format === 'openai') {
    const fields = openAiJobFields(row);
    ({ jobId, model, prompt, messages } = fields);
    sampling = { ...fields.sampling };
    kind = fields.url === OPENAI_CHAT_URL ? 'chat' : 'text';
  } else {
    if (options.idField) jobId = idText(row[options.idField], options.idField);
    else if (present(row.job_id)) jobId = idText(row.job_id, 'job_id');
    else if (present(row.custom_id)) jobId = idText(row.custom_id, 'custom_id');
    else jobId = `${options.batchId}-${seq}`;
    model = row[options.modelField];
    prompt = row[options.promptField];
    messages = structured(row[options.messagesField], options.messagesField);
    sampling = rowSampling(row, options.paramsField);
    kind = present(messages) ? 'chat' : 'text';
  }
  const metadata: Record<string, string> = { ...metadataOf(row, options), [METADATA_SEQ]: String(seq), [METADATA_KIND]: kind };
  if (options.format === 'openai') metadata[METADATA_INPUT_FORMAT] = 'openai';
  const mergedSampling = { ...options.defaults.sampling, ...sampling };
  const job = {
    job_id: jobId,
    batch_id: options.batchId,
    prompt: present(prompt) ? prompt : null,
    messages: present(messages) ? messages : null,
    model: present(model) ? model : (options.defaults.model ?? null),
    sampling: Object.keys(mergedSampling).length ? mergedSampling : null,
    priority: present(row.priority) ? Number(row.priority) : (options.defaults.priority ?? null),
    metadata,
    created_at: Date.now(),
    deadline: options.defaults.deadline ?? null,
  };
  if (!present(prompt) && !present(messages)) {
    const fields = options.format === 'openai' ? "'body.prompt' or 'body.messages'" : `'${options.promptField}' or '${options.messagesField}'`;
    throw new RowError(`has no ${fields}`);
  }
  let checked: PromptJob;
  try {
    checked = recordFromPlain(PromptJobSchemas, job);
  } catch (err) {
    // The job's field names differ from the row's where a mapping flag renamed them: say both.
    if (err instanceof SchemaError && err.field === 'prompt' && options.promptField !== 'prompt') throw new RowError(`${err.message} (mapped from '${options.promptField}')`);
    throw err;
  }
  // What the worker's engine would refuse (beam search with n > 1, early_stopping "never") is refused here, by its rule.
  engineSampling(checked.sampling);
  return checked;
}

