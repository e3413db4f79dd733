import { CONTROL_WORDS, CTRL_DONE, FILL_FAILED, FILL_OK, FILL_SLOW, FILL_UNKNOWN } from '../src/structured/grammar-protocol';
import { PendingMasks, type MaskBuffers } from '../src/structured/pending-masks';
import { tinyModel } from './helpers/tiny-models';

const MODEL = tinyModel('tiny-llama');
// Ambiguous: XGrammar's Earley parser keeps every parse, so each mask costs more than the last (about 20 ms after
// 150 tokens and 300 ms after 400 on the tiny vocabulary here). The empty alternative lets the text end anywhere:
// minTokens holds the end back, so only the limit stops it.
const AMBIGUOUS = 'root ::= x\nx ::= x x x | x x | "a" | "aa" | ""';
const LIMIT_MS = 20;

describe('a grammar whose masks grow too slow', () => {
  // Also with steps scheduled ahead (CUDA's default): the failing row's next step is already launched then.
  it.each([
    [1, false],
    [2, true],
  ])('fails its request alone with INVALID_STRUCTURED_OUTPUT; the other requests, constrained or not, finish (%i grammar threads, asyncScheduling %s)', async (grammarThreads, asyncScheduling) => {
    // The worker is a compiled file, like async-engine.test.ts's.
    const { AsyncEngine } = await import('../dist');
    const engine = await AsyncEngine.start({ model: MODEL, maxNumSeqs: 8, numBlocks: 512, grammarMaskTimeoutMs: LIMIT_MS, grammarThreads, asyncScheduling });
    try {
      const slow = engine.add({ id: 'slow', input: 'hi', params: { guidedGrammar: AMBIGUOUS, minTokens: 1500, maxTokens: 1500, temperature: 0 } }).then(
        () => undefined,
        (e: unknown) => e,
      );
      const regex = engine.add({ id: 'regex', input: 'hi', params: { guidedRegex: '[a-z]+', minTokens: 300, maxTokens: 300, temperature: 0 } });
      const free = engine.add({ id: 'free', input: 'hello', params: { temperature: 0, ignoreEos: true, maxTokens: 300 } });
      const err = await slow;
      expect(err).toMatchObject({ name: 'InvalidStructuredOutputError', code: 'INVALID_STRUCTURED_OUTPUT', retriable: false });
      expect((err as Error).message).toContain(`took longer than grammarMaskTimeoutMs (${LIMIT_MS} ms)`);
      const r = (await regex).outputs[0];
      expect(r.text).toMatch(/^[a-z]+$/);
      expect(r.tokenIds).toHaveLength(300);
      expect((await free).outputs[0].tokenIds).toHaveLength(300);
      expect(engine.stats().grammar).toMatchObject({ threads: grammarThreads, maskFailures: 1, restarts: 0 });
      // The engine goes on serving constrained requests.
      const after = await engine.add({ id: 'after', input: 'hi', params: { guidedChoice: ['yes', 'no'], temperature: 0 } });
      expect(['yes', 'no']).toContain(after.outputs[0].text);
    } finally {
      await engine.shutdown();
    }
  }, 120_000);

  it('grammarMaskTimeoutMs and grammarThreads are checked', async () => {
    const { LLMEngine } = await import('../src/frontend/llm-engine');
    await expect(LLMEngine.create({ model: MODEL, grammarMaskTimeoutMs: 0 })).rejects.toMatchObject({ code: 'INVALID_ENGINE_OPTIONS', option: 'grammarMaskTimeoutMs' });
    await expect(LLMEngine.create({ model: MODEL, grammarThreads: 0 })).rejects.toMatchObject({ code: 'INVALID_ENGINE_OPTIONS', option: 'grammarThreads' });
    await expect(LLMEngine.create({ model: MODEL, grammarThreads: 65 })).rejects.toMatchObject({ code: 'INVALID_ENGINE_OPTIONS', message: expect.stringContaining('at most 64') as string });
  });
});

describe('PendingMasks', () => {
  const words = 2;
  const buffers = (statuses: number[], generation: number): MaskBuffers => {
    const buf: MaskBuffers = {
      masks: new Int32Array(new SharedArrayBuffer(4 * statuses.length * words)),
      control: new Int32Array(new SharedArrayBuffer(4 * CONTROL_WORDS)),
      status: new Int32Array(new SharedArrayBuffer(4 * statuses.length)),
      words,
      maskTimeoutMs: 7,
      stats: { fillMs: 0, waitMs: 0, failedRows: 0 },
    };
    buf.status.set(statuses);
    buf.masks.fill(0b101);
    Atomics.store(buf.control, CTRL_DONE, generation); // the grammar thread has filled it
    return buf;
  };

  it('names each failed row, opens the rows left without a mask, and asks for a fresh thread after an XGrammar failure', () => {
    const buf = buffers([FILL_OK, FILL_SLOW, FILL_FAILED, FILL_UNKNOWN], 3);
    let restarts = 0;
    const { masks, failures } = new PendingMasks(buf, 3, 4, [0], () => restarts++).wait();
    expect([...failures.keys()]).toEqual([1, 2, 3]);
    expect(failures.get(1)).toMatchObject({ code: 'INVALID_STRUCTURED_OUTPUT', message: 'structured output: computing one next-token mask took longer than grammarMaskTimeoutMs (7 ms)' });
    expect(failures.get(2)?.message).toContain('XGrammar failed');
    expect(failures.get(3)?.message).toContain('an unknown matcher (a bug)');
    // Rows 0 and 1 keep the masks the grammar thread built; rows 2 and 3 allow every token (their draw is dropped).
    expect([...masks]).toEqual([0b101, 0b101, 0b101, 0b101, -1, -1, -1, -1]);
    expect(restarts).toBe(1);
    expect(buf.stats.failedRows).toBe(3);
  });

  it('asks for no restart when no row failed in XGrammar', () => {
    let restarts = 0;
    const { failures } = new PendingMasks(buffers([FILL_OK, FILL_SLOW], 5), 5, 2, [0], () => restarts++).wait();
    expect(failures.size).toBe(1);
    expect(restarts).toBe(0);
  });
});
