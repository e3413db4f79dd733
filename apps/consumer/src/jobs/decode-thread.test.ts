import { DecodeThread, DecodeThreadError, RemoteDecodeError } from './decode-thread';

// A test decoder: echoes the text; "hang" never returns (a busy loop), "slow" takes 300 ms, "bomb" allocates until the
// heap limit, "throw" fails.
const BODY = `
function makeDecoder(data) {
  return (bytes, context) => {
    const text = bytes.toString();
    if (text === 'hang') for (;;) {}
    if (text === 'slow') for (const end = Date.now() + 300; Date.now() < end; ) {}
    if (text === 'bomb') { const keep = []; for (;;) keep.push(new Array(1e6).fill(text)); }
    if (text === 'throw') throw Object.assign(new Error('bad field'), { name: 'SchemaError', code: 'INVALID_FIELD', field: 'a.b' });
    return { text, context, tag: data.tag };
  };
}`;

const threads: DecodeThread[] = [];
async function started(body = BODY, timeoutMs = 2000): Promise<DecodeThread> {
  const t = new DecodeThread({ body, data: { tag: 'T' }, timeoutMs, maxHeapMb: 32 });
  threads.push(t);
  await t.start();
  return t;
}
const bytes = (s: string) => Buffer.from(s);

afterEach(async () => {
  await Promise.all(threads.splice(0).map((t) => t.close()));
});

describe('DecodeThread', () => {
  it('decodes records posted all at once, each with its own answer, from a view of a larger buffer', async () => {
    const t = await started();
    const big = Buffer.from('xxxxhelloyyyy');
    const answers = await Promise.all([t.decode(big.subarray(4, 9), 'c0'), ...Array.from({ length: 50 }, (_, i) => t.decode(bytes(`r${i}`), i))]);
    expect(answers[0]).toEqual({ text: 'hello', context: 'c0', tag: 'T' });
    expect(answers.slice(1).map((a) => (a as { text: string }).text)).toEqual(Array.from({ length: 50 }, (_, i) => `r${i}`));
  });

  it("carries a decoder's error over with its name, code and field", async () => {
    const t = await started();
    const err = await t.decode(bytes('throw')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteDecodeError);
    expect(err).toMatchObject({ remoteName: 'SchemaError', code: 'INVALID_FIELD', field: 'a.b', message: 'bad field' });
  });

  it('fails a record that never returns with DECODE_TIMEOUT (not the finished one sent with it), replaces the thread and decodes the records queued behind it', async () => {
    const t = await started();
    const results = await Promise.allSettled(['a', 'hang', 'b', 'c'].map((s) => t.decode(bytes(s))));
    expect(results[0]).toMatchObject({ status: 'fulfilled', value: { text: 'a' } });
    expect(results[1]).toMatchObject({ status: 'rejected', reason: { code: 'DECODE_TIMEOUT' } });
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(DecodeThreadError);
    expect(results.slice(2)).toMatchObject([{ status: 'fulfilled', value: { text: 'b' } }, { status: 'fulfilled', value: { text: 'c' } }]);
    expect(await t.decode(bytes('after'))).toMatchObject({ text: 'after' });
  });

  it('times each record, not the queue: records that each finish within the budget all succeed however long they take together', async () => {
    const t = await started(BODY, 1000);
    const results = await Promise.all(Array.from({ length: 5 }, () => t.decode(bytes('slow'))));
    expect(results).toMatchObject(Array.from({ length: 5 }, () => ({ text: 'slow' })));
  });

  it('fails a record that exhausts the heap with DECODE_CRASHED, never the process, and goes on', async () => {
    const t = await started();
    const results = await Promise.allSettled(['bomb', 'next'].map((s) => t.decode(bytes(s))));
    expect(results[0]).toMatchObject({ status: 'rejected', reason: { code: 'DECODE_CRASHED' } });
    expect((results[0] as PromiseRejectedResult).reason.message).toMatch(/memory|exited/i);
    expect(results[1]).toMatchObject({ status: 'fulfilled', value: { text: 'next' } });
  });

  it('rejects start() when the thread cannot come up', async () => {
    const t = new DecodeThread({ body: 'throw new Error("cannot load");', timeoutMs: 500 });
    threads.push(t);
    await expect(t.start()).rejects.toMatchObject({ code: 'DECODE_UNAVAILABLE', message: expect.stringMatching(/cannot load/) });
  });

  it('fails pending and later records with DECODE_UNAVAILABLE once closed', async () => {
    const t = await started(BODY, 60_000);
    const hung = expect(t.decode(bytes('hang'))).rejects.toMatchObject({ code: 'DECODE_UNAVAILABLE' });
    await t.close();
    await hung;
    await expect(t.decode(bytes('a'))).rejects.toMatchObject({ code: 'DECODE_UNAVAILABLE' });
  });
});
