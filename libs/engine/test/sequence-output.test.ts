import { join } from 'node:path';
import { SequenceOutput, StopCriteria } from '../src/sequence-output';
import { TextTokenizer } from '../src/tokenizer/text-tokenizer';
import { tinyModel } from './helpers/tiny-models';

const tok = TextTokenizer.fromFile(join(tinyModel('tiny-llama'), 'tokenizer.json'));
const eos = tok.tokenId('<|eot_id|>')!;
const base: StopCriteria = {
  maxTokens: 100, minTokens: 0, stop: [], stopTokenIds: [], ignoreEos: false, includeStopStrInOutput: false, skipSpecialTokens: true,
};

async function feed(text: string, criteria: Partial<StopCriteria>, extra: number[] = [], maxModelLen = 2048) {
  const prompt = await tok.encode('Hello', true);
  const seq = new SequenceOutput(tok, prompt, { ...base, ...criteria }, [eos], maxModelLen);
  for (const token of [...(await tok.encode(text, false)), ...extra]) {
    if (seq.append({ token, logprob: -0.5 })) break;
  }
  return seq;
}

describe('SequenceOutput', () => {
  it('ends on eos, keeping the token id but not its text', async () => {
    const s = await feed(' the river', {}, [eos, eos]);
    expect(s.finish).toEqual({ reason: 'stop' });
    expect(s.tokenIds.at(-1)).toBe(eos);
    expect(s.outputText).toBe(' the river');
    expect(s.cumulativeLogprob).toBeCloseTo(-0.5 * s.tokenIds.length);
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
  });

  it('does not stop on a stop string before min_tokens', async () => {
    const s = await feed(' keeper and more words here', { stop: ['keeper'], minTokens: 4, maxTokens: 4 });
    expect(s.finish?.reason).toBe('length');
    expect(s.outputText.startsWith(' keeper')).toBe(true);
  });

  it('ends with length at max_tokens or at the model length', async () => {
    expect((await feed(' one two three four five', { maxTokens: 2 })).tokenIds).toHaveLength(2);
    const promptLen = (await tok.encode('Hello', true)).length;
    const s = await feed(' one two three four five', {}, [], promptLen + 3);
    expect(s.finish).toEqual({ reason: 'length' });
    expect(s.tokenIds).toHaveLength(3);
  });
});
