import { withRetry } from './retry';

describe('withRetry', () => {
  const policy = { attempts: 4, baseDelayMs: 1, maxDelayMs: 4 };

  it('retries until success and reports each retry', async () => {
    const seen: number[] = [];
    const r = await withRetry(async (a) => {
      if (a < 3) throw new Error(`fail ${a}`);
      return a;
    }, policy, (_e, a) => seen.push(a));
    expect(r).toBe(3);
    expect(seen).toEqual([1, 2]);
  });

  it('throws the last error once attempts are spent', async () => {
    let calls = 0;
    await expect(withRetry(async () => {
      calls++;
      throw new Error(`boom ${calls}`);
    }, policy)).rejects.toThrow('boom 4');
    expect(calls).toBe(4);
  });

  it('does not retry an error that is not retryable', async () => {
    let calls = 0;
    await expect(withRetry(async () => {
      calls++;
      throw new Error('fatal');
    }, policy, undefined, () => false)).rejects.toThrow('fatal');
    expect(calls).toBe(1);
  });
});
