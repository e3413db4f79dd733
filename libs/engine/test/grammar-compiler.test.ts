import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidStructuredOutputError } from '../src/errors';
import { GrammarCompiler, grammarVocab, type GrammarVocab } from '../src/structured/grammar-compiler';
import { jsonSafePattern } from '../src/structured/json-schema-fixups';
import { structuredOutputOf } from '../src/structured/structured-output';
import type { TokenMatcher } from '../src/structured/token-matcher';
import { loadXGrammar } from '../src/structured/xgrammar-loader';
import { TextTokenizer } from '../src/tokenizer/text-tokenizer';
import { tinyModel } from './helpers/tiny-models';

const dir = tinyModel('tiny-llama');
const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { vocab_size: number; eos_token_id: number };
const EOS = config.eos_token_id;
const tokenizer = TextTokenizer.fromFile(join(dir, 'tokenizer.json'));

function allowedIds(m: TokenMatcher): number[] {
  const mask = new Int32Array(m.words);
  m.fillBitmask(mask, 0);
  const ids: number[] = [];
  for (let v = 0; v < m.vocabSize; v++) if ((mask[v >> 5] >>> (v & 31)) & 1) ids.push(v);
  return ids;
}

// Feeds the tokenization of text, then eos; whether every token was accepted and the grammar ended.
async function matches(m: TokenMatcher, text: string): Promise<boolean> {
  for (const id of await tokenizer.encode(text, false)) if (!m.accept(id)) return false;
  return m.accept(EOS) && m.isTerminated;
}

describe('XGrammar (wasm) through our CommonJS loader', () => {
  let vocab: GrammarVocab;
  let compiler: GrammarCompiler;

  beforeAll(async () => {
    vocab = grammarVocab(readFileSync(join(dir, 'tokenizer.json'), 'utf8'), config.vocab_size);
    compiler = await GrammarCompiler.create(vocab, [EOS]);
  });

  it('loads once and exposes the API the engine uses', () => {
    const xg = loadXGrammar();
    expect(loadXGrammar()).toBe(xg);
    expect(typeof xg.GrammarCompiler.createGrammarCompiler).toBe('function');
    expect(typeof xg.binding().GrammarMatcher).toBe('function');
  });

  it("reads the tiny model's byte-level vocabulary, specials left empty", () => {
    expect(vocab.vocabType).toBe('byte_level');
    expect(vocab.prependSpace).toBe(false);
    expect(vocab.tokens).toHaveLength(config.vocab_size);
    expect(vocab.tokens[EOS]).toBe('');
    expect(vocab.tokens[tokenizer.tokenId('{')!]).toBe('{');
  });

  it('compiles a JSON schema: the first mask allows only tokens that open an object, and a valid document is accepted', async () => {
    const so = structuredOutputOf({ guidedJson: { type: 'object', properties: { a: { type: 'integer' } }, required: ['a'] } })!;
    const grammar = await compiler.compile(so);
    const m = grammar.newMatcher();
    const first = allowedIds(m);
    expect(first.length).toBeGreaterThan(0);
    expect(first.map((id) => tokenizer.decode([id], true)).filter((t) => !t.startsWith('{'))).toEqual([]);
    expect(await matches(m, '{"a": 42}')).toBe(true);
    const bad = grammar.newMatcher();
    expect(await matches(bad, '{"a": "x"}')).toBe(false);
    m.dispose();
    bad.dispose();
    grammar.release();
  });

  it('compiles regexes, choice lists, EBNF and json_object, each accepting what it describes and refusing the rest', async () => {
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ guidedRegex: '[0-9]{3}-[a-z]+' }, '123-abc', '12-abc'],
      [{ guidedChoice: ['positive', 'negative', 'neutral'] }, 'neutral', 'neutra'],
      [{ guidedGrammar: 'root ::= "yes" | "no"' }, 'no', 'maybe'],
      [{ guidedJsonObject: true }, '{"k": [1, 2]}', '[1, 2]'],
    ];
    for (const [params, good, bad] of cases) {
      const grammar = await compiler.compile(structuredOutputOf(params)!);
      const [ok, notOk] = [grammar.newMatcher(), grammar.newMatcher()];
      expect({ params, good: await matches(ok, good), bad: await matches(notOk, bad) }).toEqual({ params, good: true, bad: false });
      ok.dispose();
      notOk.dispose();
      grammar.release();
    }
  });

  it("a string pattern cannot end the JSON early: '.', negated classes, \\S, \\W, \\D and \\s admit no quote, backslash or raw control", async () => {
    // [pattern, a document it admits, one it must refuse]: a quote ends the string early, a raw control is not JSON,
    // and a backslash starts an escape XGrammar does not read as one (unrewritten, 0.1.27 admitted such characters).
    const cases: Array<[string, string, string]> = [
      ['^a.b$', '"axb"', '"a"b"'],
      ['^a.b$', '"a\u00e9b"', '"a\\b"'],
      ['^a[^x]b$', '"ayb"', '"a"b"'],
      ['^a[^a-f]b$', '"a-b"', '"a\\\\b"'],
      ['^a\\Sb$', '"a-b"', '"a"b"'],
      ['^a\\Wb$', '"a-b"', '"a"b"'],
      ['^a\\Db$', '"a-b"', '"a\\b"'],
      ['^a\\sb$', '"a b"', '"a\nb"'],
      ['^a[.]b$', '"a.b"', '"axb"'],
    ];
    for (const [pattern, good, bad] of cases) {
      const grammar = await compiler.compile(structuredOutputOf({ guidedJson: { type: 'string', pattern } })!);
      const [ok, notOk] = [grammar.newMatcher(), grammar.newMatcher()];
      const text = JSON.parse(`"${good.slice(1, -1)}"`) as string;
      expect({ pattern, good: await matches(ok, `"${text}"`), bad: await matches(notOk, bad) }).toEqual({ pattern, good: true, bad: false });
      ok.dispose();
      notOk.dispose();
      grammar.release();
    }
  });

  it('jsonSafePattern narrows only what admits unsafe characters, and leaves escapes and positive classes alone', () => {
    const SAFE = '"\\\\\\x00-\\x1f';
    expect(jsonSafePattern('^a.b$')).toBe(`^a[^${SAFE}]b$`);
    expect(jsonSafePattern('[^,a-f]+')).toBe(`[^,a-f${SAFE}]+`);
    expect(jsonSafePattern('\\d{2}\\W\\s')).toBe(`\\d{2}[^0-9A-Za-z_${SAFE}][ ]`);
    for (const same of ['[.]x', '\\.', '[a-z]{3}', '\\w+\\d', '^(ab|cd)?$']) expect(jsonSafePattern(same)).toBe(same);
  });

  it('a fork continues from its parent: same next mask, independent afterwards', async () => {
    const grammar = await compiler.compile(structuredOutputOf({ guidedChoice: ['abc', 'abd', 'xyz'] })!);
    const m = grammar.newMatcher();
    for (const id of await tokenizer.encode('ab', false)) expect(m.accept(id)).toBe(true);
    const child = m.fork();
    expect(allowedIds(child)).toEqual(allowedIds(m));
    expect(await matches(child, 'c')).toBe(true);
    expect(await matches(m, 'd')).toBe(true);
    for (const x of [m, child]) x.dispose();
    grammar.release();
  });

  it("keeps a schema's properties in the user's order (the order XGrammar writes them) and sorts the rest", () => {
    const so = structuredOutputOf({ guidedJson: { type: 'object', properties: { zeta: { type: 'string', maxLength: 2 }, alpha: { type: 'boolean' } }, required: ['zeta'] } })!;
    expect(so.text).toBe('{"properties":{"zeta":{"maxLength":2,"type":"string"},"alpha":{"type":"boolean"}},"required":["zeta"],"type":"object"}');
  });

  it('writes members in the order of the schema\'s properties', async () => {
    const grammar = await compiler.compile(structuredOutputOf({ guidedJson: { type: 'object', properties: { zeta: { type: 'integer' }, alpha: { type: 'integer' } }, required: ['zeta', 'alpha'] } })!);
    const [inOrder, swapped] = [grammar.newMatcher(), grammar.newMatcher()];
    expect({ inOrder: await matches(inOrder, '{"zeta": 1, "alpha": 2}'), swapped: await matches(swapped, '{"alpha": 2, "zeta": 1}') }).toEqual({ inOrder: true, swapped: false });
    for (const m of [inOrder, swapped]) m.dispose();
    grammar.release();
  });

  it('caches by canonical text: key order in a schema does not matter', async () => {
    const before = compiler.stats();
    const a = await compiler.compile(structuredOutputOf({ guidedJson: '{"type":"object","properties":{"x":{"type":"string"}}}' })!);
    const b = await compiler.compile(structuredOutputOf({ guidedJson: { properties: { x: { type: 'string' } }, type: 'object' } })!);
    expect(b).toBe(a);
    expect(compiler.stats().hits - before.hits).toBe(1);
    expect(compiler.stats().misses - before.misses).toBe(1);
    a.release();
    b.release();
  });

  it('a schema, regex or grammar XGrammar refuses fails with INVALID_STRUCTURED_OUTPUT and XGrammar keeps working', async () => {
    for (const params of [{ guidedJson: { type: 'nope' } }, { guidedGrammar: 'root ::= (' }, { guidedRegex: '((' }]) {
      const err = await compiler.compile(structuredOutputOf(params)!).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidStructuredOutputError);
      expect(err).toMatchObject({ code: 'INVALID_STRUCTURED_OUTPUT', retriable: false });
    }
    // Asked again (from the cache) and through a second compiler (XGrammar itself): the same error, no hang.
    const again = await compiler.compile(structuredOutputOf({ guidedJson: { type: 'nope' } })!).catch((e: Error) => e);
    expect((again as Error).message).toMatch(/json constraint does not compile: Unsupported type "nope"/);
    const fresh = await GrammarCompiler.create(vocab, [EOS]);
    const direct = await fresh.compile(structuredOutputOf({ guidedJson: { type: 'nope' } })!).catch((e: Error) => e);
    expect((direct as Error).message).toMatch(/Unsupported type "nope"/);
    const grammar = await compiler.compile(structuredOutputOf({ guidedChoice: ['ok'] })!);
    const m = grammar.newMatcher();
    expect(await matches(m, 'ok')).toBe(true);
    m.dispose();
    grammar.release();
  });

  it('a bounded cache evicts the least recently used, and a held grammar stays usable after eviction', async () => {
    const small = await GrammarCompiler.create(vocab, [EOS], 2);
    const held = await small.compile(structuredOutputOf({ guidedChoice: ['a'] })!);
    for (const c of ['b', 'c', 'd']) (await small.compile(structuredOutputOf({ guidedChoice: [c] })!)).release();
    expect(small.stats().entries).toBe(2);
    const m = held.newMatcher();
    expect(await matches(m, 'a')).toBe(true);
    m.dispose();
    held.release();
  });
});
