import { join } from 'node:path';
import { Scheduler } from '../src/core/scheduler';
import { SequenceGroup } from '../src/core/sequence';
import { SequenceText } from '../src/frontend/sequence-text';
import { SamplingParams, type SamplingParamsInit } from '../src/sampling-params';
import { TextTokenizer } from '../src/tokenizer/text-tokenizer';
import { tinyModel } from './helpers/tiny-models';

const tok = TextTokenizer.fromFile(join(tinyModel('tiny-llama'), 'tokenizer.json'));
const eos = tok.tokenId('<|eot_id|>')!;

// Feeds tokens through the core's stop checks (the scheduler's update) and the front end's text, as a step does.
async function feed(text: string, params: SamplingParamsInit, extra: number[] = [], maxModelLen = 2048) {
  const prompt = await tok.encode('Hello', true);
  const scheduler = new Scheduler({ blockSize: 16, numBlocks: 64, maxNumSeqs: 4, maxNumBatchedTokens: 64, maxModelLen, eosTokenIds: [eos] });
  const group = new SequenceGroup('r', prompt, new SamplingParams({ maxTokens: 100, ...params }));
  scheduler.addSeqGroup(group);
  const seq = group.seqs[0];
  const out = new SequenceText(tok, prompt, group.params);
  for (const token of [...(await tok.encode(text, false)), ...extra]) {
    const plan = scheduler.schedule();
    scheduler.launched(plan, [seq]);
    const [u] = scheduler.update({ sampled: [{ seq, result: { token, logprob: -0.5 } }], promptScores: [] });
    const finish = out.append(token, u.finished);
    if (finish && !u.finished) scheduler.finishSeq(seq, finish);
    if (finish) break;
  }
  return { finish: out.finish, outputText: out.outputText, tokenIds: seq.outputTokens(), cumulativeLogprob: seq.cumulativeLogprob, freeBlocks: scheduler.stats().freeBlocks };
}

describe('SequenceText over the core stop checks', () => {
  it('ends on eos, keeping the token id but not its text', async () => {
    const s = await feed(' the river', {}, [eos, eos]);
    expect(s.finish).toEqual({ reason: 'stop' });
    expect(s.tokenIds.at(-1)).toBe(eos);
    expect(s.outputText).toBe(' the river');
    expect(s.cumulativeLogprob).toBeCloseTo(-0.5 * s.tokenIds.length);
    expect(s.freeBlocks).toBe(64);
  });

  it('ignores eos before min_tokens and when ignore_eos is set', async () => {
    const early = await feed(' a', { minTokens: 5, maxTokens: 5 }, [eos, eos, eos, eos, eos]);
    expect(early.finish?.reason).toBe('stop');
    expect(early.tokenIds).toHaveLength(5);
    const ignored = await feed(' a', { ignoreEos: true, maxTokens: 3 }, [eos, eos, eos]);
    expect(ignored.finish).toEqual({ reason: 'length' });
  });

  it('reports a stop token id as the stop reason', async () => {
    const stopId = (await tok.encode(' river', false))[0];
    const s = await feed(' the river flows', { stopTokenIds: [stopId] });
    expect(s.finish).toEqual({ reason: 'stop', stopReason: stopId });
    expect(s.outputText).toBe(' the');
  });

  it('cuts text at a stop string and reports it', async () => {
    const s = await feed(' the lighthouse keeper wrote', { stop: ['keeper'] });
    expect(s.finish).toEqual({ reason: 'stop', stopReason: 'keeper' });
    expect(s.outputText).toBe(' the lighthouse ');
    // The front end ended the sequence in the core too: its blocks are back.
    expect(s.freeBlocks).toBe(64);
  });

  it('lets a stop string found in the last allowed token win over length, as vLLM does', async () => {
    const ids = await tok.encode(' the lighthouse keeper wrote', false);
    const upTo = ids.findIndex((_, i) => tok.decode(ids.slice(0, i + 1), true).includes('keeper')) + 1;
    const s = await feed(' the lighthouse keeper wrote', { stop: ['keeper'], maxTokens: upTo });
    expect(s.finish).toEqual({ reason: 'stop', stopReason: 'keeper' });
  });

  it('does not stop on a stop string before min_tokens', async () => {
    const s = await feed(' keeper and more words here', { stop: ['keeper'], minTokens: 4, maxTokens: 4 });
    expect(s.finish?.reason).toBe('length');
    expect(s.outputText.startsWith(' keeper')).toBe(true);
  });

  it('ends with length at max_tokens or at the model length', async () => {
    expect((await feed(' one two three four five', { maxTokens: 2 })).tokenIds).toHaveLength(2);
    const promptLen = (await tok.encode('Hello', true)).length;
    // A request must fit the model length, so here both limits end it at the same token.
    const s = await feed(' one two three four five', { maxTokens: 3 }, [], promptLen + 3);
    expect(s.finish).toEqual({ reason: 'length' });
    expect(s.tokenIds).toHaveLength(3);
  });
});
