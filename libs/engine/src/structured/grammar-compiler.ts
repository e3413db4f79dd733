// Compiles structured-output constraints against the model's vocabulary with XGrammar, once per distinct
// constraint: a bounded cache keyed by the canonical text, so a batch of jobs sharing a schema compiles it once.
import { InvalidStructuredOutputError } from '../errors';
import { jsonSafeSchema } from './json-schema-fixups';
import { Held, HeldLru } from './held-lru';
import type { StructuredOutput } from './structured-output';
import { TokenMatcher, type MatcherSource } from './token-matcher';
import { loadXGrammar, type XGrammarModule } from './xgrammar-loader';

type XCompiler = Awaited<ReturnType<XGrammarModule['GrammarCompiler']['createGrammarCompiler']>>;
type XCompiled = Awaited<ReturnType<XCompiler['compileGrammar']>>;

/** The vocabulary as XGrammar takes it: each id's token string ('' for special and missing ids) and its encoding. */
export interface GrammarVocab {
  tokens: string[];
  vocabType: 'byte_level' | 'byte_fallback' | 'raw';
  prependSpace: boolean;
}

interface TokenizerJson {
  model?: { vocab?: Record<string, number> | Array<[string, number]> };
  added_tokens?: Array<{ id: number; content: string; special: boolean }>;
  decoder?: { type?: string; decoders?: Array<{ type?: string }> } | null;
  normalizer?: { type?: string; normalizers?: Array<{ type?: string }> } | null;
  pre_tokenizer?: { type?: string; prepend_scheme?: string } | null;
}

const typesOf = (node: { type?: string; decoders?: Array<{ type?: string }>; normalizers?: Array<{ type?: string }> } | null | undefined): string[] =>
  node ? [node.type ?? '', ...(node.decoders ?? node.normalizers ?? []).map((d) => d.type ?? '')] : [];

/** The vocabulary of a Hugging Face tokenizer.json, for a model whose logits have vocabSize columns. */
export function grammarVocab(tokenizerJson: string, vocabSize: number): GrammarVocab {
  const t = JSON.parse(tokenizerJson) as TokenizerJson;
  const tokens = new Array<string>(vocabSize).fill('');
  const vocab = t.model?.vocab ?? {};
  const pairs: Array<[string, number]> = Array.isArray(vocab) ? vocab.map(([piece], id) => [piece, id]) : Object.entries(vocab);
  for (const [piece, id] of pairs) if (id < vocabSize) tokens[id] = piece;
  // Special tokens stay '': XGrammar never allows them as text (stop tokens are given by id).
  for (const a of t.added_tokens ?? []) if (a.id < vocabSize) tokens[a.id] = a.special ? '' : a.content;
  const decoders = typesOf(t.decoder);
  const vocabType = decoders.includes('ByteLevel') ? 'byte_level' : decoders.includes('ByteFallback') ? 'byte_fallback' : 'raw';
  // SentencePiece-style tokenizers put '▁' before the text: by a Prepend normalizer or a Metaspace pre-tokenizer.
  const prependSpace = typesOf(t.normalizer).includes('Prepend') || (t.pre_tokenizer?.type === 'Metaspace' && t.pre_tokenizer.prepend_scheme !== 'never');
  return { tokens, vocabType, prependSpace };
}

/** A compiled constraint; held while a request may still make matchers from it, freed once evicted and unheld. */
export class CompiledGrammar extends Held implements MatcherSource {
  constructor(
    private readonly xg: XGrammarModule,
    private readonly compiled: XCompiled,
    private readonly vocabSize: number,
  ) {
    super();
  }

  newMatcher(): TokenMatcher {
    const binding = this.xg.binding();
    const raw = new binding.GrammarMatcher(this.compiled.handle, undefined, false, -1);
    this.hold();
    return new TokenMatcher(this, raw, binding, this.vocabSize, () => this.release());
  }

  protected free(): void {
    this.compiled.dispose();
  }
}

export interface GrammarCacheStats {
  entries: number;
  hits: number;
  misses: number;
  /** Wall time of every compile so far (misses), ms. */
  compileMs: number;
}

/**
 * Whitespace characters XGrammar allows between JSON tokens: enough for pretty-printed JSON, but a model that
 * favours whitespace cannot spend its whole maxTokens on it (vLLM's any-whitespace runaway).
 */
export const JSON_MAX_WHITESPACE = 24;

/** Compiled constraints the cache keeps at most (least recently used goes first). */
export const DEFAULT_GRAMMAR_CACHE_ENTRIES = 256;

/**
 * XGrammar's compiler over one model's vocabulary, with a bounded LRU of compiled constraints keyed by their
 * canonical text. A constraint XGrammar refuses fails its own request with InvalidStructuredOutputError.
 */
export class GrammarCompiler {
  private readonly cache: HeldLru<CompiledGrammar>;
  private compileMs = 0;

  private constructor(
    private readonly xg: XGrammarModule,
    private readonly compiler: XCompiler,
    private readonly vocabSize: number,
    maxEntries: number,
  ) {
    this.cache = new HeldLru(maxEntries);
  }

  static async create(vocab: GrammarVocab, stopTokenIds: readonly number[], maxEntries = DEFAULT_GRAMMAR_CACHE_ENTRIES): Promise<GrammarCompiler> {
    const xg = loadXGrammar();
    const info = await xg.TokenizerInfo.createTokenizerInfo(vocab.tokens, vocab.vocabType, vocab.prependSpace, vocab.tokens.length, [...stopTokenIds]);
    // XGrammar's own cache is off: a compile that aborts leaves its entry pending, and the next same key would wait forever.
    const compiler = await xg.GrammarCompiler.createGrammarCompiler(info, false);
    return new GrammarCompiler(xg, compiler, vocab.tokens.length, maxEntries);
  }

  /** The compiled constraint, held for the caller (who releases it once its matchers exist). */
  async compile(so: StructuredOutput): Promise<CompiledGrammar> {
    // A refused constraint stays cached too: XGrammar aborts on it, and must never see the same one twice.
    return this.cache.get(`${so.kind}\n${so.text}`, () => this.build(so));
  }

  stats(): GrammarCacheStats {
    return { ...this.cache.counts, compileMs: this.compileMs, entries: this.cache.size };
  }

  private async build(so: StructuredOutput): Promise<CompiledGrammar> {
    const start = performance.now();
    this.xg.lastError();
    try {
      return new CompiledGrammar(this.xg, await this.compileRaw(so), this.vocabSize);
    } catch (e) {
      throw new InvalidStructuredOutputError(`the ${so.kind} constraint does not compile: ${this.xg.lastError() ?? (e as Error).message}`);
    } finally {
      this.compileMs += performance.now() - start;
    }
  }

  private compileRaw(so: StructuredOutput): Promise<XCompiled> {
    const c = this.compiler;
    switch (so.kind) {
      case 'json':
        // Any whitespace (bounded), strict: no properties or items beyond the schema's (vLLM's default with XGrammar).
        return c.compileJSONSchema(JSON.stringify(jsonSafeSchema(JSON.parse(so.text))), true, undefined, undefined, true, JSON_MAX_WHITESPACE);
      case 'json_object':
        // OpenAI's json_object: one JSON object, any members (XGrammar's built-in JSON grammar takes any value).
        return c.compileJSONSchema('{"type":"object"}', true, undefined, undefined, false, JSON_MAX_WHITESPACE);
      case 'grammar':
        return c.compileGrammar(so.text);
      case 'regex':
        return c.compileStructuralTag({ type: 'structural_tag', format: { type: 'regex', pattern: so.text } });
      case 'choice': {
        const choices = JSON.parse(so.text) as string[];
        return c.compileStructuralTag({ type: 'structural_tag', format: { type: 'or', elements: choices.map((value) => ({ type: 'const_string', value })) } });
      }
    }
  }
}
