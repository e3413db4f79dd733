import { SAMPLING_API_NAMES, type SamplingApiName } from '@sluice/schema/sampling-parameters';
import { InvalidSamplingParamsError } from './errors';
import { STRUCTURED_PARAMS, structuredOutputOf, type StructuredOutput } from './structured/structured-output';

/** What a request may set; vLLM's parameters and defaults, camelCase (vLLM's snake_case names are accepted too). */
export interface SamplingParamsInit {
  /** Sequences returned per request. */
  n?: number;
  /** Sequences generated (the n with the highest cumulative logprob are returned); the beam width under beam search. */
  bestOf?: number;
  /** 0 means greedy. */
  temperature?: number;
  topP?: number;
  /** 0 or -1 disables. */
  topK?: number;
  minP?: number;
  seed?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  repetitionPenalty?: number;
  stop?: string | string[];
  stopTokenIds?: number[];
  includeStopStrInOutput?: boolean;
  ignoreEos?: boolean;
  maxTokens?: number;
  minTokens?: number;
  /** Top logprobs reported per generated token (the sampled token's logprob is always reported). */
  logprobs?: number;
  /** Top logprobs reported per prompt token. */
  promptLogprobs?: number;
  skipSpecialTokens?: boolean;
  useBeamSearch?: boolean;
  /** Beam score = cumulative logprob / length ** lengthPenalty. */
  lengthPenalty?: number;
  /** Beam search ends once bestOf beams have finished. */
  earlyStopping?: boolean;
  /** Structured output (at most one of the five): a JSON schema (object or its JSON text) the text must validate against. */
  guidedJson?: string | object;
  /** A regular expression the whole text must match. */
  guidedRegex?: string;
  /** The text must be exactly one of these strings. */
  guidedChoice?: string[];
  /** An EBNF grammar (XGrammar's dialect, start rule `root`) the text must match. */
  guidedGrammar?: string;
  /** When true, the text must be one JSON object (OpenAI's json_object response format). */
  guidedJsonObject?: boolean;
}

type Key = keyof SamplingParamsInit;

// Below this temperature sampling is greedy, as in vLLM.
const GREEDY_EPS = 1e-5;

// The engine's names and their snake_case aliases come from the one table of sampling parameters; an engine
// parameter missing from it, or a name in it the engine lacks, fails to compile.
type Covers<Names, All extends Names> = All;
type _EveryEngineParam = Covers<SamplingApiName, Key>;
const KEYS: readonly Key[] = SAMPLING_API_NAMES.map(([, api]) => api);
const WIRE = new Map<Key, string>(SAMPLING_API_NAMES.map(([wire, api]) => [api, wire]));
const BY_NAME = new Map<string, Key>(SAMPLING_API_NAMES.flatMap(([wire, api]) => [[api, api], [wire, api]] as Array<[string, Key]>));

function fail(param: Key, message: string): never {
  throw new InvalidSamplingParamsError(param, message);
}

function num(raw: Partial<Record<Key, unknown>>, k: Key, fallback: number): number {
  const v = raw[k] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(k, `must be a finite number, got ${JSON.stringify(v)}`);
  return v;
}

function int(raw: Partial<Record<Key, unknown>>, k: Key, fallback: number, min: number): number {
  const v = num(raw, k, fallback);
  if (!Number.isSafeInteger(v) || v < min) fail(k, `must be an integer >= ${min}, got ${v}`);
  return v;
}

function optInt(raw: Partial<Record<Key, unknown>>, k: Key, min: number): number | undefined {
  return raw[k] === undefined || raw[k] === null ? undefined : int(raw, k, 0, min);
}

function bool(raw: Partial<Record<Key, unknown>>, k: Key, fallback: boolean): boolean {
  const v = raw[k] ?? fallback;
  if (typeof v !== 'boolean') fail(k, `must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** Maps camelCase or snake_case keys to camelCase; an unknown or doubly given key is an error. */
function normalize(init: object): Partial<Record<Key, unknown>> {
  const out: Partial<Record<Key, unknown>> = {};
  for (const [name, value] of Object.entries(init)) {
    const k = BY_NAME.get(name);
    if (!k) {
      throw new InvalidSamplingParamsError(name, `is not a sampling parameter (known: ${KEYS.join(', ')})`);
    }
    if (k in out) fail(k, `given twice (as ${k} and ${WIRE.get(k)})`);
    out[k] = value;
  }
  return out;
}

/** Validated sampling parameters with vLLM's semantics; the constructor throws InvalidSamplingParamsError naming the parameter. */
/** The fields of a built SamplingParams. */
export type CheckedSamplingParams = Omit<{ [K in keyof SamplingParams]: SamplingParams[K] }, 'beamWidth' | 'toChecked'>;

export class SamplingParams {
  readonly n: number;
  readonly bestOf: number;
  readonly temperature: number;
  readonly topP: number;
  readonly topK: number;
  readonly minP: number;
  readonly seed: number | undefined;
  readonly presencePenalty: number;
  readonly frequencyPenalty: number;
  readonly repetitionPenalty: number;
  readonly stop: readonly string[];
  readonly stopTokenIds: readonly number[];
  readonly includeStopStrInOutput: boolean;
  readonly ignoreEos: boolean;
  readonly maxTokens: number;
  readonly minTokens: number;
  readonly logprobs: number | undefined;
  readonly promptLogprobs: number | undefined;
  readonly skipSpecialTokens: boolean;
  readonly useBeamSearch: boolean;
  readonly lengthPenalty: number;
  readonly earlyStopping: boolean;
  /** The request's one structured-output constraint, checked and canonical; undefined when it has none. */
  readonly structuredOutput: StructuredOutput | undefined;

  constructor(init: SamplingParamsInit = {}) {
    if (typeof init !== 'object' || init === null || Array.isArray(init)) {
      throw new InvalidSamplingParamsError('params', `must be an object, got ${JSON.stringify(init)}`);
    }
    const raw = normalize(init);
    this.n = int(raw, 'n', 1, 1);
    this.bestOf = int(raw, 'bestOf', this.n, 1);
    if (this.bestOf < this.n) fail('bestOf', `must be >= n (${this.n}), got ${this.bestOf}`);
    this.useBeamSearch = bool(raw, 'useBeamSearch', false);

    const temperature = num(raw, 'temperature', this.useBeamSearch ? 0 : 1);
    if (temperature < 0) fail('temperature', `must be >= 0, got ${temperature}`);
    this.topP = num(raw, 'topP', 1);
    if (!(this.topP > 0 && this.topP <= 1)) fail('topP', `must be in (0, 1], got ${this.topP}`);
    const topK = int(raw, 'topK', 0, -1);
    this.topK = topK === -1 ? 0 : topK;
    this.minP = num(raw, 'minP', 0);
    if (this.minP < 0 || this.minP > 1) fail('minP', `must be in [0, 1], got ${this.minP}`);
    if (raw.seed !== undefined && raw.seed !== null) {
      const seed = num(raw, 'seed', 0);
      if (!Number.isSafeInteger(seed)) fail('seed', `must be an integer, got ${seed}`);
      this.seed = seed;
    }
    this.presencePenalty = num(raw, 'presencePenalty', 0);
    if (Math.abs(this.presencePenalty) > 2) fail('presencePenalty', `must be in [-2, 2], got ${this.presencePenalty}`);
    this.frequencyPenalty = num(raw, 'frequencyPenalty', 0);
    if (Math.abs(this.frequencyPenalty) > 2) fail('frequencyPenalty', `must be in [-2, 2], got ${this.frequencyPenalty}`);
    this.repetitionPenalty = num(raw, 'repetitionPenalty', 1);
    if (!(this.repetitionPenalty > 0)) fail('repetitionPenalty', `must be > 0, got ${this.repetitionPenalty}`);

    const stop = raw.stop ?? [];
    const stops = typeof stop === 'string' ? [stop] : stop;
    if (!Array.isArray(stops) || stops.some((s) => typeof s !== 'string' || s.length === 0)) {
      fail('stop', `must be a non-empty string or a list of non-empty strings, got ${JSON.stringify(stop)}`);
    }
    this.stop = stops as string[];
    const ids = raw.stopTokenIds ?? [];
    if (!Array.isArray(ids) || ids.some((t) => !Number.isSafeInteger(t) || (t as number) < 0)) {
      fail('stopTokenIds', `must be a list of token ids (integers >= 0), got ${JSON.stringify(ids)}`);
    }
    this.stopTokenIds = ids as number[];
    this.includeStopStrInOutput = bool(raw, 'includeStopStrInOutput', false);
    this.ignoreEos = bool(raw, 'ignoreEos', false);
    this.skipSpecialTokens = bool(raw, 'skipSpecialTokens', true);

    this.maxTokens = int(raw, 'maxTokens', 16, 1);
    this.minTokens = int(raw, 'minTokens', 0, 0);
    if (this.minTokens > this.maxTokens) fail('minTokens', `must be <= maxTokens (${this.maxTokens}), got ${this.minTokens}`);
    this.logprobs = optInt(raw, 'logprobs', 0);
    this.promptLogprobs = optInt(raw, 'promptLogprobs', 0);

    this.lengthPenalty = num(raw, 'lengthPenalty', 1);
    this.earlyStopping = bool(raw, 'earlyStopping', false);
    if (this.useBeamSearch) {
      if (temperature >= GREEDY_EPS) fail('temperature', `must be 0 with beam search, got ${temperature}`);
      if (this.n > 1) fail('n', `beam search returns bestOf beams; set bestOf (the beam width), not n (got ${this.n})`);
    } else {
      if (raw.lengthPenalty !== undefined) fail('lengthPenalty', 'only applies with useBeamSearch');
      if (raw.earlyStopping !== undefined) fail('earlyStopping', 'only applies with useBeamSearch');
    }

    this.structuredOutput = structuredOutputOf(Object.fromEntries(STRUCTURED_PARAMS.map((k) => [k, raw[k]])));

    // Greedy sampling ignores truncation, as vLLM normalises it.
    this.temperature = temperature < GREEDY_EPS ? 0 : temperature;
    if (this.temperature === 0) {
      this.topP = 1;
      this.topK = 0;
      this.minP = 0;
    }
  }

  /** The beam width when useBeamSearch is set. */
  /** The checked values, as plain data that crosses a thread boundary (what revive() takes back). */
  toChecked(): CheckedSamplingParams {
    return { ...this };
  }

  /**
   * The SamplingParams whose toChecked() gave these values, without checking them again: for values that were
   * built and checked once, in this process, and crossed to the engine's thread.
   */
  static revive(checked: CheckedSamplingParams): SamplingParams {
    return Object.assign(Object.create(SamplingParams.prototype) as SamplingParams, checked);
  }

  get beamWidth(): number {
    return this.bestOf;
  }
}
