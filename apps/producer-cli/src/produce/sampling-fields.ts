// The sampling parameters as the PromptJob schema declares them, so flags and columns follow the schema, not a copy.
import { PromptJobSchemas, type AvroSchemaJson, type SamplingParams } from '@sluice/schema';

export type SamplingKind = 'int' | 'long' | 'double' | 'boolean' | 'string[]' | 'int[]' | 'early_stopping';

export interface SamplingField {
  name: keyof SamplingParams;
  kind: SamplingKind;
  doc: string;
}

interface FieldJson {
  name: string;
  type: AvroSchemaJson;
  doc?: string;
}

function kindOf(type: AvroSchemaJson, name: string): SamplingKind {
  const branches = (Array.isArray(type) ? type : [type]).filter((b) => b !== 'null');
  if (branches.length > 1) return name === 'early_stopping' ? 'early_stopping' : fail(name);
  const [branch] = branches;
  if (branch === 'int' || branch === 'long' || branch === 'double' || branch === 'boolean') return branch;
  if (typeof branch === 'object' && !Array.isArray(branch) && branch.type === 'array') return branch.items === 'int' ? 'int[]' : 'string[]';
  return fail(name);
}

function fail(name: string): never {
  throw new Error(`sampling field ${name} has a type the CLI does not map`);
}

function samplingRecord(): { fields: FieldJson[] } {
  const job = PromptJobSchemas.latest.json as { fields: FieldJson[] };
  const sampling = job.fields.find((f) => f.name === 'sampling');
  const record = (sampling?.type as AvroSchemaJson[]).find((b) => typeof b === 'object' && !Array.isArray(b));
  return record as unknown as { fields: FieldJson[] };
}

export const SAMPLING_FIELDS: readonly SamplingField[] = samplingRecord().fields.map((f) => ({
  name: f.name as keyof SamplingParams,
  kind: kindOf(f.type, f.name),
  doc: f.doc ?? '',
}));

const BY_NAME = new Map(SAMPLING_FIELDS.map((f) => [f.name as string, f]));

export function samplingField(name: string): SamplingField | undefined {
  return BY_NAME.get(name);
}

/** Converts text (a CSV cell, a flag value) to the parameter's type; throws an Error whose message says what was expected. */
export function parseSamplingText(field: SamplingField, text: string): unknown {
  const t = text.trim();
  switch (field.kind) {
    case 'int':
    case 'long': {
      if (!/^[-+]?\d+$/.test(t)) throw new Error(`expected an integer, got "${text}"`);
      return Number(t);
    }
    case 'double': {
      const n = Number(t);
      if (t === '' || !Number.isFinite(n)) throw new Error(`expected a number, got "${text}"`);
      return n;
    }
    case 'boolean':
      if (/^(true|1|yes)$/i.test(t)) return true;
      if (/^(false|0|no)$/i.test(t)) return false;
      throw new Error(`expected true or false, got "${text}"`);
    case 'early_stopping':
      if (t === 'never') return t;
      if (/^(true|false)$/i.test(t)) return t.toLowerCase() === 'true';
      throw new Error(`expected true, false or never, got "${text}"`);
    case 'string[]':
      // JSON array text for several stop strings, otherwise the text itself is the one stop string.
      return t.startsWith('[') ? JSON.parse(t) : [text];
    case 'int[]':
      return t.startsWith('[') ? JSON.parse(t) : t.split(',').map((s) => parseSamplingText({ ...field, kind: 'int' }, s));
  }
}
