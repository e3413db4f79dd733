import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LLMEngine } from '../src/frontend/llm-engine';
import { LLM } from '../src/llm';
import type { RequestOutput } from '../src/outputs';
import { argmax, referenceLogprobs, ReferenceLlama } from './helpers/reference-llama';
import { tinyModel } from './helpers/tiny-models';

// float32: the f32 path is the one held exact against the float64 reference (bfloat16 is tested in weight-dtype.test.ts).
const MODELS = ['tiny-llama', 'tiny-gqa', 'tiny-mistral-bf16'] as const;
const CORPUS = readFileSync(join(__dirname, '..', 'scripts', 'tiny-corpus.txt'), 'utf8');
const PROMPTS = [
  'The river',
  'Café 日本語 🙂🚀 привет — naïve ✓',
  'a',
  // Several hundred tokens: spans many KV blocks and, with a small token budget, several prefill chunks.
  CORPUS.slice(0, 900),
];
const MAX_TOKENS = 10;
const TOL = 1e-4;

describe.each(MODELS)('%s matches the float64 reference', (name) => {
  const ref = new ReferenceLlama(tinyModel(name));
  const params = { temperature: 0, maxTokens: MAX_TOKENS, ignoreEos: true, logprobs: 3, promptLogprobs: 2 };
  const cache = new Map<string, Float64Array[]>();
  let llm: LLM;

  // One reference pass over prompt + continuation scores every prompt token and every generated token.
  function expectMatchesReference(out: RequestOutput): void {
    const prompt = out.promptTokenIds;
    const got = out.outputs[0];
    const all = [...prompt, ...got.tokenIds];
    const key = all.join(',');
    if (!cache.has(key)) cache.set(key, referenceLogprobs(ref, all));
    const lps = cache.get(key)!;
    expect(got.tokenIds).toHaveLength(MAX_TOKENS);
    got.tokenIds.forEach((t, i) => {
      const lp = lps[prompt.length - 1 + i];
      expect(t).toBe(argmax(lp));
      expect(Math.abs(got.logprobs![i].logprob - lp[t])).toBeLessThan(TOL);
      const top = Array.from(lp.keys()).sort((a, b) => lp[b] - lp[a]).slice(0, 3);
      expect(got.logprobs![i].top!.map((e) => e.token)).toEqual(top);
      got.logprobs![i].top!.forEach((e) => expect(Math.abs(e.logprob - lp[e.token])).toBeLessThan(TOL));
    });
    expect(out.promptLogprobs).toHaveLength(prompt.length);
    expect(out.promptLogprobs![0]).toBeNull();
    for (let j = 1; j < prompt.length; j++) {
      const e = out.promptLogprobs![j]!;
      expect(e.token).toBe(prompt[j]);
      expect(Math.abs(e.logprob - lps[j - 1][prompt[j]])).toBeLessThan(TOL);
      expect(e.top).toHaveLength(2);
    }
  }

  beforeAll(() => {
    llm = new LLM({ model: tinyModel(name), dtype: 'float32', kvCacheBytes: 8 * 1024 * 1024 });
  });
  afterAll(() => llm.close());

  it('greedy tokens, per-step (top) logprobs and prompt logprobs, all prompts batched together', async () => {
    const outs = await llm.generate(PROMPTS, params);
    expect(outs.map((o) => o.prompt)).toEqual(PROMPTS);
    expect(outs[3].promptTokenIds.length).toBeGreaterThan(250);
    for (const out of outs) {
      expect(out.finished).toBe(true);
      expect(out.outputs[0].finishReason).toBe('length');
      expectMatchesReference(out);
    }
  });

  it('the long prompt gives the same result when prefilled in small chunks over small blocks', async () => {
    const engine = await LLMEngine.create({ model: tinyModel(name), dtype: 'float32', maxNumBatchedTokens: 64, maxNumSeqs: 8, numBlocks: 64, blockSize: 8 });
    try {
      await engine.addRequest('long', PROMPTS[3], params);
      let final: RequestOutput | undefined;
      let steps = 0;
      while (engine.hasUnfinishedRequests()) {
        steps++;
        for (const o of engine.step()) if (o.finished) final = o;
      }
      expect(steps).toBeGreaterThan(MAX_TOKENS + 3);
      expectMatchesReference(final!);
    } finally {
      engine.close();
    }
  });
});
