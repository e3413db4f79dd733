import { join } from 'node:path';
import { resolveModelFiles } from '../src/model/model-files';
import { ChatTemplate, specialTokensOf } from '../src/tokenizer/chat-template';
import { IncrementalDetokenizer } from '../src/tokenizer/incremental-detokenizer';
import { StopStringText } from '../src/tokenizer/stop-strings';
import { TextTokenizer } from '../src/tokenizer/text-tokenizer';
import { tokenBytes, tokenBytesRule } from '../src/tokenizer/token-bytes';
import { TokenizerError } from '../src/tokenizer/tokenizer-error';
import { tinyModel } from './helpers/tiny-models';

const tok = TextTokenizer.fromFile(join(tinyModel('tiny-llama'), 'tokenizer.json'));
const UNICODE = 'Café 日本語 🙂🚀 привет — naïve ✓ 한국어 🦀!';

async function streamed(ids: number[], promptIds: number[], skip = true): Promise<string[]> {
  const d = new IncrementalDetokenizer(tok, promptIds, skip);
  const deltas = ids.map((id) => d.push([id]));
  deltas.push(d.flush());
  return deltas;
}

describe('TextTokenizer', () => {
  it('round-trips unicode text, with and without special tokens', async () => {
    const ids = await tok.encode(UNICODE, false);
    expect(tok.decode(ids, true)).toBe(UNICODE);
    const withBos = await tok.encode(UNICODE, true);
    expect(withBos[0]).toBe(tok.tokenId('<|begin_of_text|>'));
    expect(tok.decode(withBos, false)).toBe('<|begin_of_text|>' + UNICODE);
    expect(tok.decode(withBos, true)).toBe(UNICODE);
  });
});

describe('TextTokenizer.tokenBytes', () => {
  it('gives each token its own bytes: together the text\'s UTF-8, alone some not valid UTF-8 (a split character)', async () => {
    const ids = await tok.encode(UNICODE, false);
    const pieces = ids.map((id) => tok.tokenBytes(id));
    expect(Buffer.concat(pieces).toString('utf8')).toBe(tok.decode(ids, true));
    const valid = (b: Uint8Array) => { try { new TextDecoder('utf-8', { fatal: true }).decode(b); return true; } catch { return false; } };
    expect(pieces.filter((b) => !valid(b)).length).toBeGreaterThan(0);
    for (const [i, b] of pieces.entries()) if (valid(b)) expect(Buffer.from(b).toString('utf8')).toBe(tok.decode([ids[i]], false));
  });

  it('spells special tokens as their text, and an id with no token as no bytes', () => {
    const bos = tok.tokenId('<|begin_of_text|>')!;
    expect(Buffer.from(tok.tokenBytes(bos)).toString('utf8')).toBe('<|begin_of_text|>');
    expect(tok.tokenBytes(tok.vocabSize + 10)).toHaveLength(0);
  });

  it('reads byte-fallback vocabularies (Llama 2, Mistral): <0xNN> is one byte, \u2581 a space', () => {
    const rule = tokenBytesRule({ type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '\u2581' } }, { type: 'ByteFallback' }, { type: 'Fuse' }] });
    expect(rule).toBe('sentencepiece');
    expect([...tokenBytes('<0xE2>', rule, false)]).toEqual([0xe2]);
    expect(Buffer.from(tokenBytes('\u2581Hello', rule, false)).toString('utf8')).toBe(' Hello');
    expect(tokenBytesRule({ type: 'ByteLevel' })).toBe('byte-level');
    expect(tokenBytesRule(null)).toBe('text');
  });
});

describe('IncrementalDetokenizer', () => {
  it('emits multi-byte characters split across tokens only once whole', async () => {
    const ids = await tok.encode(UNICODE, false);
    // The test is only meaningful if some token on its own is an incomplete UTF-8 sequence.
    expect(ids.some((id) => tok.decode([id], true).includes('\uFFFD'))).toBe(true);
    const deltas = await streamed(ids, await tok.encode('Hello', true));
    expect(deltas.join('')).toBe(UNICODE);
    expect(deltas.every((d) => !d.includes('\uFFFD'))).toBe(true);
  });

  it('keeps word-boundary spaces after the prompt and handles special tokens', async () => {
    const prompt = await tok.encode('The river', true);
    const out = await tok.encode(' keeps moving', false);
    const eot = tok.tokenId('<|eot_id|>')!;
    expect((await streamed([...out, eot], prompt)).join('')).toBe(' keeps moving');
    expect((await streamed([...out, eot], prompt, false)).join('')).toBe(' keeps moving<|eot_id|>');
  });

  it('flushes a trailing incomplete character at the end', async () => {
    const ids = await tok.encode('🙂', false);
    expect(ids.length).toBeGreaterThan(1);
    const deltas = await streamed(ids.slice(0, 1), []);
    expect(deltas.slice(0, -1).join('')).toBe('');
    expect(deltas[deltas.length - 1]).toBe('\uFFFD');
  });
});

describe('StopStringText', () => {
  async function run(text: string, stops: string[], include: boolean) {
    const ids = await tok.encode(text, false);
    const detok = new IncrementalDetokenizer(tok, [], true);
    const out = new StopStringText(stops, include);
    let streamedText = '';
    let tokensUsed = 0;
    for (const id of ids) {
      tokensUsed++;
      out.append(detok.push([id]));
      streamedText += out.takeDelta(false);
      if (out.stoppedBy !== undefined) break;
    }
    if (out.stoppedBy === undefined) out.append(detok.flush());
    streamedText += out.takeDelta(true);
    return { out, streamedText, tokensUsed, totalTokens: ids.length };
  }

  it('stops on a string that spans several tokens and leaves it out of the text', async () => {
    const r = await run('The lighthouse keeper wrote letters every night.', ['keeper wrote'], false);
    expect(r.out.stoppedBy).toBe('keeper wrote');
    expect(r.out.text).toBe('The lighthouse ');
    expect(r.streamedText).toBe('The lighthouse ');
    expect(r.tokensUsed).toBeLessThan(r.totalTokens);
  });

  it('includes the stop string when asked, and picks the earliest of several', async () => {
    const r = await run('one two three four', ['four', 'two th'], true);
    expect(r.out.stoppedBy).toBe('two th');
    expect(r.out.text).toBe('one two th');
  });

  it('never streams the start of a stop string that then matches', async () => {
    const out = new StopStringText(['<END>'], false);
    const seen: string[] = [];
    for (const piece of ['abc<', 'EN', 'D>tail']) {
      out.append(piece);
      seen.push(out.takeDelta(false));
    }
    expect(seen.join('')).toBe('abc');
    expect(out.text).toBe('abc');
  });

  it('releases the held-back tail when the sequence ends without a match', async () => {
    const r = await run('plain text with no stop', ['zzz!'], false);
    expect(r.out.stoppedBy).toBeUndefined();
    expect(r.streamedText).toBe('plain text with no stop');
  });
});

describe('ChatTemplate', () => {
  it('renders the Llama-3-style template from tokenizer_config.json', () => {
    const m = resolveModelFiles(tinyModel('tiny-llama'));
    const t = new ChatTemplate(m.chatTemplate!, specialTokensOf(m.tokenizerConfig));
    const s = t.render([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: ' Hi there ' }]);
    expect(s).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    );
  });

  it('rejects a malformed message with a typed error', () => {
    const t = new ChatTemplate('{{ messages[0].content }}', {});
    expect(() => t.render([{ role: 'user' } as never])).toThrow(TokenizerError);
  });
});
