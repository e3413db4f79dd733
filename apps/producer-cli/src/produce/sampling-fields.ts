// The sampling parameters as @sluice/schema's one table lists them (and the schema declares them: a test there checks),
// with each one's doc from the PromptJob schema, so flags and columns follow the schema, not a copy.
import { PromptJobSchemas, SAMPLING_PARAMETERS, type SamplingKind, type SamplingParams } from '@sluice/schema';

export type { SamplingKind };

export interface SamplingField {
  name: keyof SamplingParams;
  kind: SamplingKind;
  doc: string;
}

function samplingDocs(): Map<string, string> {
  const job = PromptJobSchemas.latest.json as { fields: Array<{ name: string; type: unknown }> };
  const sampling = job.fields.find((f) => f.name === 'sampling')?.type as unknown[];
  const record = sampling.find((b) => typeof b === 'object' && b !== null) as { fields: Array<{ name: string; doc?: string }> };
  return new Map(record.fields.map((f) => [f.name, f.doc ?? '']));
}

const DOCS = samplingDocs();

export const SAMPLING_FIELDS: readonly SamplingField[] = SAMPLING_PARAMETERS.map((p) => ({ name: p.wire, kind: p.kind, doc: DOCS.get(p.wire) ?? '' }));

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
    case 'string':
      return text;
    case 'string[]':
      // JSON array text for several stop strings, otherwise the text itself is the one stop string.
      return t.startsWith('[') ? JSON.parse(t) : [text];
    case 'int[]':
      return t.startsWith('[') ? JSON.parse(t) : t.split(',').map((s) => parseSamplingText({ ...field, kind: 'int' }, s));
  }
}
