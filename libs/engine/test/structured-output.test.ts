import Ajv from 'ajv';
import { LLMEngine } from '../src/frontend/llm-engine';
import { jobOutcomeOf } from '../src/job-outcome';
import type { RequestOutput } from '../src/outputs';
import type { SamplingParamsInit } from '../src/sampling-params';
import { MAX_STRUCTURED_OUTPUT_CHARS } from '../src/structured/structured-output';
import { tinyModel } from './helpers/tiny-models';

// The tiny models have random weights: unmasked, their text is noise, so every valid output below is the mask's work.
const MODEL = tinyModel('tiny-llama');

interface Spec {
  name: string;
  params: SamplingParamsInit;
  valid(text: string): boolean;
}

const ajv = new Ajv({ strict: false });

function jsonSpec(name: string, schema: object): Spec {
  const validate = ajv.compile(schema);
  return {
    name, params: { guidedJson: schema },
    valid: (text) => {
      try {
        return validate(JSON.parse(text)) === true;
      } catch {
        return false;
      }
    },
  };
}

function regexSpec(pattern: string): Spec {
  const re = new RegExp(`^(?:${pattern})$`);
  return { name: `regex ${pattern}`, params: { guidedRegex: pattern }, valid: (text) => re.test(text) };
}

function choiceSpec(choices: string[]): Spec {
  return { name: `choice ${choices.join('|')}`, params: { guidedChoice: choices }, valid: (text) => choices.includes(text) };
}

const SPECS: Spec[] = [
  jsonSpec('nested object', {
    type: 'object',
    properties: {
      name: { type: 'string', maxLength: 8 },
      age: { type: 'integer', minimum: 0, maximum: 120 },
      tags: { type: 'array', items: { type: 'string', enum: ['a', 'b', 'c'] }, maxItems: 3 },
      address: { type: 'object', properties: { city: { type: 'string', pattern: '^[a-z]{1,6}$' }, zip: { type: 'integer', minimum: 0, maximum: 99999 } }, required: ['city'] },
    },
    required: ['name', 'age', 'address'],
  }),
  jsonSpec('enum', { type: 'string', enum: ['red', 'green', 'blue'] }),
  // A fractional number is left out: the random model extends its digits until maxTokens.
  jsonSpec('bounded integers', { type: 'object', properties: { x: { type: 'integer', minimum: -5, maximum: 5 }, n: { type: 'integer', minimum: 10, maximum: 20 } }, required: ['x', 'n'] }),
  jsonSpec('array of digits', { type: 'array', items: { type: 'integer', minimum: 0, maximum: 9 }, minItems: 1, maxItems: 4 }),
  jsonSpec('optional fields', { type: 'object', properties: { a: { type: 'boolean' }, b: { type: 'null' }, c: { type: 'string', maxLength: 5 } } }),
  jsonSpec('string pattern', { type: 'object', properties: { id: { type: 'string', pattern: '^[A-Z]{2}-[0-9]{3}$' } }, required: ['id'] }),
  jsonSpec('anyOf', { anyOf: [{ type: 'integer', minimum: 0, maximum: 1000 }, { type: 'string', maxLength: 4 }] }),
  regexSpec('[0-9]{3}-[a-z]{2,4}'),
  regexSpec('(yes|no|maybe)'),
  regexSpec('[A-Z][a-z]{1,5}( [A-Z][a-z]{1,5})?'),
  choiceSpec(['positive', 'negative', 'neutral']),
  choiceSpec(['A', 'B', 'C', 'D']),
  {
    name: 'json_object', params: { guidedJsonObject: true },
    valid: (text) => {
      try {
        const v: unknown = JSON.parse(text);
        return typeof v === 'object' && v !== null && !Array.isArray(v);
      } catch {
        return false;
      }
    },
  },
  { name: 'EBNF sum', params: { guidedGrammar: 'root ::= "(" num ("+" num)* ")"\nnum ::= [0-9] | [1-9] [0-9]' }, valid: (text) => /^\((?:[0-9]|[1-9][0-9])(?:\+(?:[0-9]|[1-9][0-9]))*\)$/.test(text) },
];

// Greedy, sampled, n > 1 sampled, best_of, and beam search.
const MODES: SamplingParamsInit[] = [
  { temperature: 0 },
  { temperature: 1, seed: 7 },
  { temperature: 0.8, n: 3, seed: 11 },
  { temperature: 1, n: 1, bestOf: 2, seed: 13 },
  { useBeamSearch: true, bestOf: 2 },
];

const PROMPTS = ['Give me the data', 'The answer is', 'x', 'Reply now, please, with the result of the request below'];

async function drain(engine: LLMEngine, done: Map<string, RequestOutput>): Promise<void> {
  while (engine.hasUnfinishedRequests()) for (const o of engine.step()) if (o.finished) done.set(o.requestId, o);
}

describe('structured output on the random-weight tiny model', () => {
  let engine: LLMEngine;

  beforeAll(async () => {
    engine = await LLMEngine.create({ model: MODEL, maxNumSeqs: 64, numBlocks: 2048, asyncScheduling: true });
  });

  afterAll(() => engine.close());

  it('200 requests across schemas, regexes, choices, json_object and EBNF, in every mode: every output that stops validates', async () => {
    const reqs = Array.from({ length: 200 }, (_, i) => {
      const spec = SPECS[i % SPECS.length];
      const mode = MODES[Math.floor(i / SPECS.length) % MODES.length];
      return { id: `s${i}`, spec, params: { ...spec.params, ...mode, maxTokens: 192 } };
    });
    const done = new Map<string, RequestOutput>();
    for (const r of reqs) await engine.addRequest(r.id, PROMPTS[reqs.indexOf(r) % PROMPTS.length], r.params);
    await drain(engine, done);

    let stopped = 0;
    let total = 0;
    const invalid: string[] = [];
    const stoppedBySpec = new Map<string, number>();
    for (const r of reqs) {
      const out = done.get(r.id)!;
      expect(out.outputs.length).toBe(r.params.useBeamSearch ? r.params.bestOf : (r.params.n ?? 1));
      for (const o of out.outputs) {
        total++;
        expect(['stop', 'length']).toContain(o.finishReason);
        if (o.finishReason !== 'stop') continue;
        stopped++;
        stoppedBySpec.set(r.spec.name, (stoppedBySpec.get(r.spec.name) ?? 0) + 1);
        if (!r.spec.valid(o.text)) invalid.push(`${r.id} ${r.spec.name}: ${JSON.stringify(o.text)}`);
      }
    }
    expect(invalid).toEqual([]);
    // Not vacuous: most outputs finish their structure within maxTokens (the rest are the random model's runaway
    // whitespace and digits, cut by 'length'), and every constraint has finished outputs that were checked.
    expect(stopped / total).toBeGreaterThan(0.75);
    expect(SPECS.filter((s) => !stoppedBySpec.get(s.name)).map((s) => s.name)).toEqual([]);
    // Constrained requests are scheduled ahead too (asyncScheduling is on here): the step launched ahead runs its
    // forward, and samples once the step before it is read and its masks are filled.
    expect(engine.stats().stepsScheduledAhead).toBeGreaterThan(0);
  }, 600_000);

  it('without the mask the same model does not produce the structure (the test above is not vacuous)', async () => {
    const ahead = engine.stats().stepsScheduledAhead;
    const done = new Map<string, RequestOutput>();
    for (let i = 0; i < 8; i++) await engine.addRequest(`free${i}`, PROMPTS[i % PROMPTS.length], { temperature: 1, seed: i, maxTokens: 24 });
    await drain(engine, done);
    const choice = SPECS.find((s) => s.name.startsWith('choice positive'))!;
    const json = SPECS.find((s) => s.name === 'json_object')!;
    expect([...done.values()].filter((o) => choice.valid(o.outputs[0].text) || json.valid(o.outputs[0].text))).toEqual([]);
    expect(engine.stats().stepsScheduledAhead).toBeGreaterThan(ahead);
  });

  it('a pool of grammar threads changes no output: each matcher lives on one thread, every thread holds every grammar', async () => {
    // Every mode (n > 1 siblings and beams spread over the threads), every kind of constraint, some below minTokens.
    const reqs = SPECS.map((spec, i) => ({ id: `pool${i}`, params: { ...spec.params, ...MODES[i % MODES.length], maxTokens: 40, minTokens: i % 3 } }));
    const run = async (e: LLMEngine) => {
      const done = new Map<string, RequestOutput>();
      for (const r of reqs) await e.addRequest(r.id, 'Give me the data', r.params);
      await drain(e, done);
      return reqs.map((r) => done.get(r.id)!.outputs.map((o) => `${o.finishReason} ${o.tokenIds.join(',')}`));
    };
    const pool = await LLMEngine.create({ model: MODEL, maxNumSeqs: 64, numBlocks: 2048, asyncScheduling: true, grammarThreads: 3 });
    try {
      const pooled = await run(pool);
      expect(pooled).toEqual(await run(engine));
      expect(pool.stats().grammar).toMatchObject({ threads: 3, maskFailures: 0, restarts: 0 });
      expect(engine.stats().grammar?.threads).toBe(1);
    } finally {
      pool.close();
    }
  }, 120_000);

  it('scheduling ahead changes no output: constrained tokens equal those of an engine that reads every step first', async () => {
    const reqs = SPECS.map((spec, i) => ({ id: `eq${i}`, params: { ...spec.params, temperature: 1, seed: 100 + i, maxTokens: 48, minTokens: i % 3 } }));
    const run = async (e: LLMEngine) => {
      const done = new Map<string, RequestOutput>();
      for (const r of reqs) await e.addRequest(r.id, 'Give me the data', r.params);
      await drain(e, done);
      return reqs.map((r) => done.get(r.id)!.outputs.map((o) => `${o.finishReason} ${o.tokenIds.join(',')}`));
    };
    const ahead = engine.stats().stepsScheduledAhead;
    const sync = await LLMEngine.create({ model: MODEL, maxNumSeqs: 64, numBlocks: 2048, asyncScheduling: false });
    try {
      expect(await run(engine)).toEqual(await run(sync));
    } finally {
      sync.close();
    }
    expect(engine.stats().stepsScheduledAhead).toBeGreaterThan(ahead);
  });

  it('reports logprobs of the masked distribution: only allowed tokens are finite, and they sum to 1', async () => {
    const done = new Map<string, RequestOutput>();
    await engine.addRequest('lp', 'Pick one', { guidedChoice: ['A', 'B'], temperature: 1, seed: 3, logprobs: 5, maxTokens: 4 });
    await drain(engine, done);
    const first = done.get('lp')!.outputs[0].logprobs![0];
    const finite = first.top!.filter((t) => Number.isFinite(t.logprob));
    const allowed = new Set([engine.tokenizer.tokenId('A'), engine.tokenizer.tokenId('B')]);
    expect(finite.length).toBeGreaterThan(0);
    expect(finite.every((t) => allowed.has(t.token))).toBe(true);
    expect(finite.reduce((s, t) => s + Math.exp(t.logprob), 0)).toBeCloseTo(1, 4);
  });

  it('maxTokens reached first gives finish_reason length and the partial text', async () => {
    const done = new Map<string, RequestOutput>();
    await engine.addRequest('short', 'go', { guidedJson: { type: 'object', properties: { name: { type: 'string', minLength: 20 } }, required: ['name'] }, temperature: 0, maxTokens: 4 });
    await drain(engine, done);
    const o = done.get('short')!.outputs[0];
    expect(o.finishReason).toBe('length');
    expect(o.tokenIds).toHaveLength(4);
    expect(o.text.startsWith('{')).toBe(true);
  });

  it('invalid and pathological constraints fail their own request with INVALID_STRUCTURED_OUTPUT while the engine serves the rest', async () => {
    const bad: SamplingParamsInit[] = [
      { guidedJson: { type: 'nope' } },
      { guidedJson: { type: 'string', pattern: '((' } },
      { guidedJson: { $ref: '#/definitions/missing' } },
      { guidedJson: '{"type": "object",' },
      { guidedJson: { type: 'string', enum: Array.from({ length: 5000 }, (_, i) => `value-${i}-${'x'.repeat(10)}`) } },
      { guidedRegex: '((' },
      { guidedGrammar: 'root ::= (' },
      { guidedGrammar: 'start ::= "a"' },
      { guidedChoice: Array.from({ length: 2000 }, (_, i) => `c${i}`) },
      { guidedRegex: 'a'.repeat(MAX_STRUCTURED_OUTPUT_CHARS + 1) },
    ];
    const done = new Map<string, RequestOutput>();
    const good = SPECS[8];
    const step = () => {
      for (const o of engine.step()) if (o.finished) done.set(o.requestId, o);
    };
    await engine.addRequest('before', 'hi', { ...good.params, temperature: 0, maxTokens: 96 });
    step();
    for (const [i, params] of bad.entries()) {
      const err: unknown = await engine.addRequest(`bad${i}`, 'hi', { ...params, maxTokens: 8 }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'INVALID_STRUCTURED_OUTPUT', retriable: false });
      // The worker dead-letters it, and generate writes an error line, under this outcome code.
      expect(jobOutcomeOf(err)?.code).toBe('INVALID_STRUCTURED_OUTPUT');
      step();
    }
    await expect(engine.addRequest('two', 'hi', { guidedRegex: 'a', guidedChoice: ['a'] })).rejects.toMatchObject({ code: 'INVALID_SAMPLING_PARAMS', param: 'guidedChoice' });
    await engine.addRequest('after', 'hi', { ...SPECS[10].params, temperature: 1, seed: 5, maxTokens: 96 });
    await drain(engine, done);
    for (const [id, spec] of [['before', good], ['after', SPECS[10]]] as const) {
      const o = done.get(id)!.outputs[0];
      expect({ id, finish: o.finishReason, valid: spec.valid(o.text) }).toEqual({ id, finish: 'stop', valid: true });
    }
  });

  it("minTokens holds the grammar's end back while the grammar can go on; a grammar that can only end stops below it", async () => {
    const run = async (minTokens: number, choices: string[]) => {
      const done = new Map<string, RequestOutput>();
      for (let i = 0; i < 32; i++) await engine.addRequest(`min${minTokens}-${choices.length}-${i}`, 'hi', { guidedChoice: choices, minTokens, temperature: 1, seed: i, maxTokens: 16 });
      await drain(engine, done);
      return [...done.values()].map((o) => o.outputs[0]);
    };
    // 'a' is one token: without minTokens some samples end there; with minTokens 3 none may, so all go on.
    expect((await run(0, ['a', 'abcdefgh'])).filter((o) => o.text === 'a').length).toBeGreaterThan(0);
    const held = await run(3, ['a', 'abcdefgh']);
    expect(held.map((o) => `${o.text} ${o.finishReason}`)).toEqual(held.map(() => 'abcdefgh stop'));
    // 'ab' cannot grow: the structure wins over the count, and the sequence stops with fewer than minTokens tokens.
    const short = await run(10, ['ab']);
    expect(short.map((o) => `${o.text} ${o.finishReason}`)).toEqual(short.map(() => 'ab stop'));
    expect(Math.max(...short.map((o) => o.tokenIds.length))).toBeLessThan(10);
  });

  it('an aborted constrained request frees its matchers and the engine goes on', async () => {
    await engine.addRequest('gone', 'hi', { guidedChoice: ['abcdefgh'], n: 2, temperature: 1, seed: 1, maxTokens: 32 });
    engine.step();
    expect(engine.abortRequest('gone')?.outputs.every((o) => o.finishReason === 'abort')).toBe(true);
    const done = new Map<string, RequestOutput>();
    await engine.addRequest('next', 'hi', { guidedChoice: ['abcdefgh'], temperature: 0, maxTokens: 32 });
    await drain(engine, done);
    expect(done.get('next')!.outputs[0]).toMatchObject({ text: 'abcdefgh', finishReason: 'stop' });
  });
});
