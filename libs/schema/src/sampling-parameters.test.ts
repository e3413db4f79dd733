import { PromptJobSchemas } from './families';
import { SAMPLING_API_NAMES, SAMPLING_PARAMETERS, type SamplingKind } from './sampling-parameters';
import type { AvroSchemaJson, SchemaVersion } from './schema-files';

interface FieldJson {
  name: string;
  type: AvroSchemaJson;
  default?: unknown;
}

// The non-null branches of the Avro union each kind is written as.
const AVRO_BRANCHES: Record<SamplingKind, AvroSchemaJson[]> = {
  int: ['int'],
  long: ['long'],
  double: ['double'],
  boolean: ['boolean'],
  string: ['string'],
  'string[]': [{ type: 'array', items: 'string' }],
  'int[]': [{ type: 'array', items: 'int' }],
  early_stopping: ['boolean', 'string'],
};

function samplingFields(version: SchemaVersion): FieldJson[] {
  const sampling = (version.json as { fields: FieldJson[] }).fields.find((f) => f.name === 'sampling');
  const [nullBranch, record] = sampling?.type as [string, { fields: FieldJson[] }];
  expect(nullBranch).toBe('null');
  return record.fields;
}

describe('the sampling parameter table against the prompt-job .avsc files', () => {
  const byWire = new Map(SAMPLING_PARAMETERS.map((p) => [p.wire as string, p]));

  it('the latest version has exactly the table, in its order', () => {
    const names = samplingFields(PromptJobSchemas.latest).map((f) => f.name);
    expect(names).toEqual(SAMPLING_PARAMETERS.map((p) => p.wire));
  });

  it.each(PromptJobSchemas.versions.map((v) => [v.file, v] as const))('every sampling field of %s is in the table, nullable with a null default and of its kind', (_file, version) => {
    for (const field of samplingFields(version)) {
      const row = byWire.get(field.name);
      expect({ field: field.name, known: row !== undefined }).toEqual({ field: field.name, known: true });
      expect({ field: field.name, type: field.type, default: field.default }).toEqual({ field: field.name, type: ['null', ...AVRO_BRANCHES[row!.kind]], default: null });
    }
  });
});

describe('the names derived from the table', () => {
  it('names every parameter but beam_width for the engine, camelCase of its wire name', () => {
    const camel = (wire: string) => wire.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    expect(SAMPLING_API_NAMES.map(([wire]) => wire)).toEqual(SAMPLING_PARAMETERS.map((p) => p.wire).filter((w) => w !== 'beam_width'));
    for (const [wire, api] of SAMPLING_API_NAMES) expect(api).toBe(camel(wire));
  });
});
