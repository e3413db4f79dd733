// The one list of sampling parameters. Each has a name on the wire (the PromptJob schema's and vLLM's HTTP API's,
// snake_case), a name in @sluice/engine's API (camelCase) and a value kind. The record types, the engine's name maps
// and its snake_case aliases derive from this list; the .avsc files cannot, so a test checks them against it.
// This file imports nothing, so the engine can take it alone through the `@sluice/schema/sampling-parameters` subpath.

/** A parameter's value: the non-null branch of its Avro type ('early_stopping' is the boolean-or-string union). */
export type SamplingKind = 'int' | 'long' | 'double' | 'boolean' | 'string' | 'string[]' | 'int[]' | 'early_stopping';

export interface SamplingParameter {
  /** The wire name: Avro field, vLLM HTTP parameter. */
  readonly wire: string;
  /** The engine's name, or null for a wire-only parameter. */
  readonly api: string | null;
  readonly kind: SamplingKind;
}

/** Every sampling parameter, in the schema's field order. Every wire field is nullable: null means the engine's default. */
export const SAMPLING_PARAMETERS = [
  { wire: 'n', api: 'n', kind: 'int' },
  { wire: 'best_of', api: 'bestOf', kind: 'int' },
  { wire: 'temperature', api: 'temperature', kind: 'double' },
  { wire: 'top_p', api: 'topP', kind: 'double' },
  { wire: 'top_k', api: 'topK', kind: 'int' },
  { wire: 'min_p', api: 'minP', kind: 'double' },
  { wire: 'seed', api: 'seed', kind: 'long' },
  { wire: 'presence_penalty', api: 'presencePenalty', kind: 'double' },
  { wire: 'frequency_penalty', api: 'frequencyPenalty', kind: 'double' },
  { wire: 'repetition_penalty', api: 'repetitionPenalty', kind: 'double' },
  { wire: 'stop', api: 'stop', kind: 'string[]' },
  { wire: 'stop_token_ids', api: 'stopTokenIds', kind: 'int[]' },
  { wire: 'include_stop_str_in_output', api: 'includeStopStrInOutput', kind: 'boolean' },
  { wire: 'ignore_eos', api: 'ignoreEos', kind: 'boolean' },
  { wire: 'max_tokens', api: 'maxTokens', kind: 'int' },
  { wire: 'min_tokens', api: 'minTokens', kind: 'int' },
  { wire: 'logprobs', api: 'logprobs', kind: 'int' },
  { wire: 'prompt_logprobs', api: 'promptLogprobs', kind: 'int' },
  { wire: 'skip_special_tokens', api: 'skipSpecialTokens', kind: 'boolean' },
  { wire: 'use_beam_search', api: 'useBeamSearch', kind: 'boolean' },
  // The number of beams: the engine's bestOf under beam search, so it has no engine name of its own.
  { wire: 'beam_width', api: null, kind: 'int' },
  { wire: 'length_penalty', api: 'lengthPenalty', kind: 'double' },
  // vLLM's "never" is accepted on the wire; the engine takes true or false only.
  { wire: 'early_stopping', api: 'earlyStopping', kind: 'early_stopping' },
  // Structured output (prompt-job v3), vLLM's guided decoding: at most one per job (the engine checks).
  { wire: 'guided_json', api: 'guidedJson', kind: 'string' },
  { wire: 'guided_regex', api: 'guidedRegex', kind: 'string' },
  { wire: 'guided_choice', api: 'guidedChoice', kind: 'string[]' },
  { wire: 'guided_grammar', api: 'guidedGrammar', kind: 'string' },
  { wire: 'guided_json_object', api: 'guidedJsonObject', kind: 'boolean' },
] as const satisfies readonly SamplingParameter[];

type Row = (typeof SAMPLING_PARAMETERS)[number];
type Named = Extract<Row, { api: string }>;
export type SamplingWireName = Row['wire'];
export type SamplingApiName = Named['api'];

/** The TypeScript type of a value of this kind on the wire. */
export type SamplingWireValue<K extends SamplingKind> = K extends 'int' | 'long' | 'double'
  ? number
  : K extends 'boolean'
    ? boolean
    : K extends 'string'
      ? string
      : K extends 'string[]'
        ? string[]
        : K extends 'int[]'
          ? number[]
          : boolean | 'never';

/** Sampling parameters under their wire names; null or absent means the engine's default. */
export type SamplingParams = { [R in Row as R['wire']]?: SamplingWireValue<R['kind']> | null };

/** The parameters the engine names, as [wire name, engine name] pairs in table order. */
export const SAMPLING_API_NAMES: ReadonlyArray<readonly [Named['wire'], SamplingApiName]> = SAMPLING_PARAMETERS.flatMap((p) =>
  p.api === null ? [] : [[p.wire, p.api] as const],
);
