// The one table of decode limits: every bound a decoder enforces, its default and why. Flags, env vars and README
// rows derive from this table; keep it data.

/** What a limit bounds: the whole record value, one string/bytes field, or the items of one array/map. */
export type DecodeLimitKind = 'record' | 'string' | 'collection';

export interface DecodeLimitSpec {
  /** Option name (camelCase); a CLI derives `--max-message-bytes` / `SLUICE_MAX_MESSAGE_BYTES` from it. */
  readonly name: string;
  readonly default: number;
  readonly unit: 'bytes' | 'items' | 'entries';
  readonly kind: DecodeLimitKind;
  /**
   * Field paths this limit binds to, from the record root with array indexes and map keys dropped (`messages`,
   * `messages.content`, `sampling.stop`). Absent: every field of its kind that no other limit names.
   */
  readonly fields?: readonly string[];
  /** What is bounded, one line. */
  readonly doc: string;
  /** Why the default is what it is, one line. */
  readonly why: string;
}

export const DECODE_LIMITS = [
  {
    name: 'maxMessageBytes', default: 1_048_576, unit: 'bytes', kind: 'record',
    doc: 'Largest record value accepted, framing included (the whole Kafka message value).',
    why: "1 MiB is Kafka's default max.message.bytes: a default topic cannot carry a larger record anyway.",
  },
  {
    name: 'maxPromptBytes', default: 262_144, unit: 'bytes', kind: 'string', fields: ['prompt', 'messages.content'],
    doc: 'Largest prompt, or content of one chat message, in UTF-8 bytes.',
    why: "256 KiB (about 64k tokens) is the worker's --max-prompt-bytes default, so sluice produce refuses what a default worker would dead-letter.",
  },
  {
    name: 'maxStringBytes', default: 1_048_576, unit: 'bytes', kind: 'string',
    doc: 'Largest other string or bytes field (ids, model, stop strings, metadata, completion text, dead-letter payloads).',
    why: 'As large as the record: completion texts and dead-letter payloads may be that large; lower it to cap the rest.',
  },
  {
    name: 'maxMessages', default: 4096, unit: 'items', kind: 'collection', fields: ['messages'],
    doc: 'Chat messages in one job.',
    why: 'Far past any real conversation; each message becomes an object, so the count bounds allocation.',
  },
  {
    name: 'maxMetadataEntries', default: 256, unit: 'entries', kind: 'collection', fields: ['metadata'],
    doc: 'Metadata entries of one record.',
    why: 'Metadata is labels copied onto every completion; a few dozen is typical.',
  },
  {
    name: 'maxStopStrings', default: 64, unit: 'items', kind: 'collection', fields: ['sampling.stop'],
    doc: 'Stop strings of one job.',
    why: 'Every stop string is matched after every generated token, so the count multiplies per-token work.',
  },
  {
    name: 'maxStopTokenIds', default: 1024, unit: 'items', kind: 'collection', fields: ['sampling.stop_token_ids'],
    doc: 'Stop token ids of one job.',
    why: 'A set checked per token; 1024 covers every special token of common vocabularies.',
  },
  {
    name: 'maxCollectionItems', default: 262_144, unit: 'items', kind: 'collection',
    doc: "Items of any other array or map (a completion's outputs, token_ids, logprobs; dead-letter headers).",
    why: 'Covers the per-token arrays of a 256k-token completion, past any supported context.',
  },
] as const satisfies readonly DecodeLimitSpec[];

export type DecodeLimitName = (typeof DECODE_LIMITS)[number]['name'];

/** A value for every limit. */
export type DecodeLimits = Record<DecodeLimitName, number>;

export const DEFAULT_DECODE_LIMITS: Readonly<DecodeLimits> = Object.freeze(
  Object.fromEntries(DECODE_LIMITS.map((l) => [l.name, l.default])) as DecodeLimits,
);

/** Merges `overrides` over the defaults; throws RangeError naming a limit that is unknown or not a positive integer. */
export function resolveDecodeLimits(overrides: Partial<DecodeLimits> = {}): DecodeLimits {
  const out = { ...DEFAULT_DECODE_LIMITS };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (!Object.hasOwn(out, name)) throw new RangeError(`unknown decode limit '${name}' (known: ${DECODE_LIMITS.map((l) => l.name).join(', ')})`);
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`decode limit '${name}' must be a positive integer, got ${String(value)}`);
    out[name as DecodeLimitName] = value;
  }
  return out;
}

type BindingKind = 'string' | 'collection';

// Built once from the table: field path -> its limit, and the catch-all limit of each kind.
const BINDINGS = new Map<BindingKind, { byField: Map<string, DecodeLimitSpec>; other: DecodeLimitSpec }>(
  (['string', 'collection'] as const).map((kind) => {
    const specs = (DECODE_LIMITS as readonly DecodeLimitSpec[]).filter((l) => l.kind === kind);
    const byField = new Map(specs.flatMap((l) => (l.fields ?? []).map((f) => [f, l] as const)));
    return [kind, { byField, other: specs.find((l) => !l.fields) as DecodeLimitSpec }];
  }),
);

/** The limit that binds a string or collection at `shape` (its field path without indexes and map keys). */
export function limitFor(kind: BindingKind, shape: string): DecodeLimitSpec {
  const binding = BINDINGS.get(kind) as { byField: Map<string, DecodeLimitSpec>; other: DecodeLimitSpec };
  return binding.byField.get(shape) ?? binding.other;
}
