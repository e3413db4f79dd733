import { LLM } from '../src/llm';
import { logSoftmax, ReferenceLlama } from './helpers/reference-llama';
import { tinyModel } from './helpers/tiny-models';

const EOS = [897, 900];

interface RefBeam {
  tokens: number[];
  cum: number;
  ended: boolean;
}

interface Case {
  width: number;
  maxTokens: number;
  lengthPenalty: number;
  earlyStopping: boolean;
  stopTokenIds: number[];
}

// An independent beam search over the float64 reference, written from vLLM's definition: extend every
// live beam by its 2W best tokens, keep the 2W best candidates by cumulative logprob, finished ones (eos,
// stop id, length) into a pool of the W best by score, the W best others live on; stop early per earlyStopping.
function referenceBeamSearch(ref: ReferenceLlama, prompt: number[], c: Case): Array<{ tokens: number[]; cum: number; score: number }> {
  const score = (b: RefBeam) => {
    const eosEnd = b.ended && EOS.includes(b.tokens[b.tokens.length - 1]);
    return b.cum / Math.pow(prompt.length + b.tokens.length - (eosEnd ? 1 : 0), c.lengthPenalty);
  };
  let live: RefBeam[] = [{ tokens: [], cum: 0, ended: false }];
  let done: RefBeam[] = [];
  while (live.length > 0) {
    const cands: RefBeam[] = [];
    for (const b of live) {
      const lp = logSoftmax(ref.logits([...prompt, ...b.tokens], prompt.length + b.tokens.length - 1)[0]);
      const top = Array.from(lp.keys()).sort((x, y) => lp[y] - lp[x]).slice(0, 2 * c.width);
      for (const t of top) cands.push({ tokens: [...b.tokens, t], cum: b.cum + lp[t], ended: false });
    }
    cands.sort((x, y) => y.cum - x.cum);
    const next: RefBeam[] = [];
    for (const cand of cands.slice(0, 2 * c.width)) {
      const t = cand.tokens[cand.tokens.length - 1];
      cand.ended = EOS.includes(t) || c.stopTokenIds.includes(t) || cand.tokens.length >= c.maxTokens;
      (cand.ended ? done : next).push(cand);
    }
    done = done.sort((x, y) => score(y) - score(x)).slice(0, c.width);
    live = next.sort((x, y) => score(y) - score(x)).slice(0, c.width);
    if (done.length === c.width && live.length > 0 && (c.earlyStopping || score(done[c.width - 1]) >= score(live[0]))) break;
  }
  return done.map((b) => ({ tokens: b.tokens, cum: b.cum, score: score(b) }));
}

describe.each<[Parameters<typeof tinyModel>[0], Omit<Case, 'stopTokenIds'>, boolean]>([
  ['tiny-llama', { width: 4, maxTokens: 7, lengthPenalty: 1, earlyStopping: false }, false],
  ['tiny-gqa', { width: 3, maxTokens: 8, lengthPenalty: 0.5, earlyStopping: true }, true],
  ['tiny-mistral-bf16', { width: 2, maxTokens: 6, lengthPenalty: 2, earlyStopping: false }, true],
])('beam search on %s', (name, base, withStopToken) => {
  // float32: the exact path the float64 reference is held to (bfloat16 weights: weight-dtype.test.ts).
  const ref = new ReferenceLlama(tinyModel(name));
  const llm = new LLM({ model: tinyModel(name), dtype: 'float32', kvCacheBytes: 4 * 1024 * 1024 });
  afterAll(() => llm.close());

  it('returns the same beams and scores as the float64 reference', async () => {
    const engine = await llm.getEngine();
    const prompt = (await engine.encodePrompt('p', 'The river runs')).promptTokenIds;
    // A stop token among the first step's likely candidates makes beams finish early and exercises the pool.
    const first = logSoftmax(ref.logits(prompt, prompt.length - 1)[0]);
    const stopTokenIds = withStopToken ? [Array.from(first.keys()).sort((x, y) => first[y] - first[x])[1]] : [];
    const c: Case = { ...base, stopTokenIds };
    const want = referenceBeamSearch(ref, prompt, c);
    const [out] = await llm.generate({ promptTokenIds: prompt }, {
      useBeamSearch: true, bestOf: c.width, maxTokens: c.maxTokens, lengthPenalty: c.lengthPenalty,
      earlyStopping: c.earlyStopping, stopTokenIds, logprobs: 0,
    });
    expect(out.finished).toBe(true);
    expect(out.outputs.map((o) => o.tokenIds)).toEqual(want.map((b) => b.tokens));
    out.outputs.forEach((o, i) => {
      expect(Math.abs(o.cumulativeLogprob! - want[i].cum)).toBeLessThan(1e-4);
      const len = prompt.length + o.tokenIds.length - (o.finishReason === 'stop' && o.stopReason === undefined ? 1 : 0);
      expect(Math.abs(o.cumulativeLogprob! / Math.pow(len, c.lengthPenalty) - want[i].score)).toBeLessThan(1e-4);
      expect(o.logprobs!.map((l) => l.token)).toEqual(o.tokenIds);
    });
    if (withStopToken) expect(out.outputs.some((o) => o.stopReason === stopTokenIds[0])).toBe(true);
    expect(engine.stats().numRequests).toBe(0);
    expect(engine.hasUnfinishedRequests()).toBe(false);
  });
});

describe('beam search requests', () => {
  const llm = new LLM({ model: tinyModel('tiny-llama'), kvCacheBytes: 4 * 1024 * 1024 });
  afterAll(() => llm.close());

  it('run beside sampled requests, can be aborted, and reject what cannot run', async () => {
    const engine = await llm.getEngine();
    await engine.addRequest('beam', 'The river', { useBeamSearch: true, bestOf: 3, maxTokens: 6 });
    await engine.addRequest('plain', 'The river', { temperature: 0, maxTokens: 6, ignoreEos: true });
    expect(engine.stats().numRequests).toBe(2);
    const finished = new Map<string, number>();
    while (engine.hasUnfinishedRequests()) for (const o of engine.step()) if (o.finished) finished.set(o.requestId, o.outputs.length);
    expect(Object.fromEntries(finished)).toEqual({ beam: 3, plain: 1 });

    await engine.addRequest('gone', 'The river', { useBeamSearch: true, bestOf: 2, maxTokens: 20 });
    engine.step();
    engine.step();
    expect(engine.stats().numRequests).toBe(1);
    const aborted = engine.abortRequest('gone')!;
    expect(aborted.outputs.every((o) => o.finishReason === 'abort')).toBe(true);
    expect(engine.hasUnfinishedRequests()).toBe(false);
    expect(engine.stats().freeBlocks).toBe(engine.stats().totalBlocks);

    await expect(engine.addRequest('s', 'x', { useBeamSearch: true, bestOf: 2, stop: ['a'] })).rejects.toThrow(expect.objectContaining({ param: 'stop' }));
    await expect(engine.addRequest('w', 'x', { useBeamSearch: true, bestOf: 11 })).rejects.toThrow(expect.objectContaining({ param: 'bestOf' }));
    await expect(engine.addRequest('l', 'x', { useBeamSearch: true, bestOf: 2, maxTokens: 5000 })).rejects.toThrow(expect.objectContaining({ reason: 'EXCEEDS_MAX_MODEL_LEN' }));
  });

  it("holds a long prompt's blocks once however many beams grow from it", async () => {
    const engine = await llm.getEngine();
    const prompt = Array.from({ length: 400 }, (_, i) => (i * 13) % 890);
    const promptBlocks = Math.ceil(prompt.length / engine.config.blockSize);
    await engine.addRequest('wide', { promptTokenIds: prompt }, { useBeamSearch: true, bestOf: 4, maxTokens: 24, ignoreEos: true });
    let peak = 0;
    let shared = 0;
    let out;
    while (engine.hasUnfinishedRequests()) {
      for (const o of engine.step()) if (o.finished) out = o;
      const s = engine.stats();
      peak = Math.max(peak, s.totalBlocks - s.freeBlocks);
      shared = Math.max(shared, s.blocks.sharedBlocks);
    }
    expect(out!.outputs).toHaveLength(4);
    // Four beams of 400 + 24 tokens held apart would take 4 × 27 blocks; forks share all but each beam's tail.
    expect(peak).toBeLessThanOrEqual(promptBlocks + 4 * (Math.ceil(24 / engine.config.blockSize) + 1));
    expect(shared).toBeGreaterThanOrEqual(promptBlocks - 1);
    expect(engine.stats().freeBlocks).toBe(engine.stats().totalBlocks);
  });
});
