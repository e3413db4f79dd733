import { createHash } from 'node:crypto';
import { CompletionSchemas, DeadLetterSchemas, RecordCodec, type Completion, type DeadLetter } from '@sluice/schema';
import { CUT_MARK, RESULT_TOO_LARGE, TEXT_CAP_BYTES, cutText, fitCompletion, fitDeadLetter } from './record-fit';

const letters = new RecordCodec(DeadLetterSchemas);
const completions = new RecordCodec(CompletionSchemas);
const encodeLetter = (l: DeadLetter) => letters.encode(l);
const encodeCompletion = (c: Completion) => completions.encode(c);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function letterOf(value: Buffer, over: Partial<DeadLetter> = {}): DeadLetter {
  return {
    key: Buffer.from('job-1'), value, headers: { 'sluice-batch-id': Buffer.from('b1') }, source_topic: 'jobs', source_partition: 2, source_offset: 77,
    error_code: 'PROMPT_TOO_LARGE', error_message: 'prompt is too long', job_id: 'job-1', batch_id: 'b1', worker_id: 'w', failed_at: 1,
    value_size: value.length, value_sha256: sha256(value), value_truncated: false, key_truncated: false, headers_truncated: false, ...over,
  };
}

/** The budget a letter needs whole: its encoding plus its key, as fitDeadLetter counts it. */
async function wholeBudget(l: DeadLetter): Promise<number> {
  return (await encodeLetter(l)).length + (l.key?.length ?? 0);
}

describe('fitDeadLetter', () => {
  const original = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));

  it('keeps a dead letter whose record is exactly the budget whole', async () => {
    const l = letterOf(original);
    const fit = await fitDeadLetter(l, await wholeBudget(l), encodeLetter);
    expect(fit.cuts).toEqual([]);
    expect(fit.letter).toBe(l);
    expect(await letters.decode(fit.value)).toEqual(l);
  });

  it('cuts the value of one a byte over the budget to a prefix, recording the size and SHA-256 of the whole original', async () => {
    const l = letterOf(original);
    const budget = (await wholeBudget(l)) - 1;
    const fit = await fitDeadLetter(l, budget, encodeLetter);
    expect(fit.cuts).toEqual(['value']);
    expect(fit.value.length + 5).toBeLessThanOrEqual(budget);
    const back = await letters.decode(fit.value);
    expect(back).toMatchObject({ value_truncated: true, value_size: 5000, value_sha256: sha256(original), headers_truncated: false, key_truncated: false, error_message: 'prompt is too long' });
    expect(back.value!.length).toBeGreaterThan(4900);
    expect(original.subarray(0, back.value!.length).equals(back.value!)).toBe(true);
  });

  it('cuts a 10 MiB value down to a 1 MiB topic and says where the original is', async () => {
    const big = Buffer.alloc(10 * 1024 * 1024, 7);
    const budget = 1_048_588 - 128;
    const fit = await fitDeadLetter(letterOf(big), budget, encodeLetter);
    expect(fit.value.length + 5).toBeLessThanOrEqual(budget);
    expect(fit.value.length).toBeGreaterThan(budget - 1024);
    const back = await letters.decode(fit.value);
    expect(back).toMatchObject({ value_truncated: true, value_size: big.length, value_sha256: sha256(big), source_topic: 'jobs', source_partition: 2, source_offset: 77 });
  });

  it('leaves the headers out once they alone would not fit, keeping a value that then fits whole', async () => {
    const l = letterOf(Buffer.from('short value'), { headers: { big: Buffer.alloc(20_000, 1), 'sluice-batch-id': Buffer.from('b1') } });
    const fit = await fitDeadLetter(l, 2000, encodeLetter);
    expect(fit.cuts).toEqual(['value', 'headers']);
    const back = await letters.decode(fit.value);
    expect(back).toMatchObject({ headers: {}, headers_truncated: true, value_truncated: false, value: Buffer.from('short value') });
  });

  it('cuts the key and the texts last, to 1 KiB each, never splitting a character', async () => {
    const huge = 'é'.repeat(300_000);
    const l = letterOf(Buffer.alloc(10), { key: Buffer.alloc(300_000, 0x61), job_id: huge, batch_id: 'b1', error_message: huge });
    const fit = await fitDeadLetter(l, 8000, encodeLetter);
    expect(fit.cuts).toEqual(['value', 'headers', 'key', 'texts']);
    const back = await letters.decode(fit.value);
    expect(fit.value.length + back.key!.length).toBeLessThanOrEqual(8000);
    expect(back).toMatchObject({ key_truncated: true, batch_id: 'b1' });
    expect(back.key!.length).toBe(TEXT_CAP_BYTES);
    for (const text of [back.job_id!, back.error_message]) {
      expect(text.endsWith(CUT_MARK)).toBe(true);
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(TEXT_CAP_BYTES);
      expect(text).not.toContain('\ufffd');
    }
  });

  it('refuses a budget too small for the fixed fields, naming where the message came from', async () => {
    await expect(fitDeadLetter(letterOf(original), 60, encodeLetter)).rejects.toThrow(/jobs\/2 offset 77 cannot fit 60 bytes/);
  });
});

describe('cutText', () => {
  it('keeps a text that fits and cuts a longer one at a character boundary, marked', () => {
    expect(cutText('abc', 3)).toBe('abc');
    expect(cutText('€€€€', 10)).toBe(`€${CUT_MARK}`); // 12 bytes: room for 5 before the mark, one 3-byte character
  });
});

function completionOf(text: string, metadata: Record<string, string> = { 'sluice.seq': '4' }): Completion {
  return {
    job_id: 'job-7', batch_id: 'b1', outputs: [{ index: 0, text, token_ids: null, finish_reason: 'stop', stop_reason: null, cumulative_logprob: null, logprobs: null }],
    usage: { prompt_tokens: 3, completion_tokens: 9 }, timings: { queued_ms: 1, first_token_ms: 2, total_ms: 3 }, model: 'm', worker_id: 'w', metadata, error: null, completed_at: 5,
  };
}

describe('fitCompletion', () => {
  const note = 'the 2000-byte max.message.bytes of topic "results"';
  const budgetOf = async (c: Completion) => (await encodeCompletion(c)).length + Buffer.byteLength(c.job_id);

  it('keeps a completion exactly at the budget whole', async () => {
    const c = completionOf('x'.repeat(1500));
    const fit = await fitCompletion(c, await budgetOf(c), note, encodeCompletion);
    expect(fit).toMatchObject({ cut: 'none', completion: c });
  });

  it('answers one a byte over with RESULT_TOO_LARGE, keeping ids, usage, timings and metadata, naming the size and the limit', async () => {
    const c = completionOf('x'.repeat(1500));
    const budget = (await budgetOf(c)) - 1;
    const fit = await fitCompletion(c, budget, note, encodeCompletion);
    if (fit.cut !== 'error') throw new Error(`expected an error completion, got ${fit.cut}`);
    expect(fit.value.length + 5).toBeLessThanOrEqual(budget);
    const back = await completions.decode(fit.value);
    expect(back).toMatchObject({ job_id: 'job-7', batch_id: 'b1', outputs: [], usage: c.usage, timings: c.timings, metadata: c.metadata });
    expect(back.error).toEqual({ code: RESULT_TOO_LARGE, message: `the completion is ${fit.wholeBytes} bytes encoded, over ${note}; its outputs were dropped` });
  });

  it('drops the metadata too when it alone would not fit', async () => {
    const fit = await fitCompletion(completionOf('x', { blob: 'y'.repeat(5000) }), 1000, note, encodeCompletion);
    expect(fit.cut).toBe('metadata');
    if (fit.cut === 'metadata') expect(fit.completion.metadata).toEqual({});
  });

  it('says unfit when the ids alone are over the budget, for the caller to dead-letter', async () => {
    const fit = await fitCompletion({ ...completionOf('x'), job_id: 'j'.repeat(5000) }, 4000, note, encodeCompletion);
    expect(fit.cut).toBe('unfit');
    expect(fit.reason).toMatch(/^the completion is \d+ bytes encoded, over the 2000-byte/);
  });
});
