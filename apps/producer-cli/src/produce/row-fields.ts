// Unknown fields of a row are refused (or ignored with --no-strict), so a misspelt field is never silently dropped.
import { RowError } from './row-error';
import { SAMPLING_FIELDS } from './sampling-fields';
import type { MappingOptions } from './row-to-job';

// The top-level keys of an OpenAI Batch API input line; its body's keys are checked by openAiJobFields.
const OPENAI_KEYS = ['custom_id', 'method', 'url', 'body'];

/** The row fields a mapping reads: the mapped ones, ids, priority, metadata, and every sampling parameter. */
export function knownFields(options: Pick<MappingOptions, 'format' | 'promptField' | 'messagesField' | 'idField' | 'modelField' | 'paramsField' | 'metadataFields'>): Set<string> {
  if (options.format === 'openai') return new Set(OPENAI_KEYS);
  const mapped = [options.promptField, options.messagesField, options.modelField, options.paramsField, 'job_id', 'custom_id', 'priority', 'metadata'];
  return new Set([...mapped, ...(options.idField ? [options.idField] : []), ...options.metadataFields, ...SAMPLING_FIELDS.map((f) => f.name)]);
}

// Edit distance, for "did you mean": rows are checked once each, and names are short.
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const cur = [i];
    for (let j = 1; j <= b.length; j += 1) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

function suggestion(field: string, known: Set<string>): string {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(field.length / 3)) + 1;
  for (const k of known) {
    const d = distance(field.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best ? ` (did you mean '${best}'?)` : '';
}

/** Throws a RowError naming the first field of `row` not in `known`. */
export function checkRowFields(row: Record<string, unknown>, known: Set<string>, openai: boolean): void {
  for (const field of Object.keys(row)) {
    if (known.has(field)) continue;
    const fix = openai ? '' : '; --metadata-fields keeps it as metadata, --no-strict ignores unknown fields';
    throw new RowError(`unknown field '${field}'${suggestion(field, known)}${fix}`);
  }
}
