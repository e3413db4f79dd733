import { ClassifyAhead } from './classify-ahead';

describe('ClassifyAhead', () => {
  it('starts at most `window` items ahead of the one taken, half a window at a time, and gives each its own result, in order', async () => {
    const started: number[] = [];
    const ahead = new ClassifyAhead([0, 1, 2, 3, 4, 5, 6], (n) => (started.push(n), Promise.resolve(n * 10)), { items: 4, bytes: 1e9 }, () => 1);
    expect(await ahead.result(0)).toBe(0);
    expect(started).toEqual([0, 1, 2, 3]);
    expect(await ahead.result(1)).toBe(10);
    expect(started).toEqual([0, 1, 2, 3]);
    expect(await ahead.result(2)).toBe(20);
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
    expect(await ahead.result(6)).toBe(60);
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('keeps the bytes started ahead within the window, and still starts an item larger than the whole window when its turn comes', async () => {
    const started: number[] = [];
    const sizes = [10, 10, 10, 10, 10, 100, 10];
    const ahead = new ClassifyAhead([0, 1, 2, 3, 4, 5, 6], (n) => (started.push(n), Promise.resolve(n)), { items: 100, bytes: 25 }, (n) => sizes[n]);
    await ahead.result(0);
    expect(started).toEqual([0, 1, 2]);
    await ahead.result(1);
    expect(started).toEqual([0, 1, 2]);
    await ahead.result(2);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    await ahead.result(4);
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
    expect(await ahead.result(5)).toBe(5);
    expect(await ahead.result(6)).toBe(6);
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('leaves no unhandled rejection behind for an item that is never taken, and passes one on to whoever takes it', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (r: unknown) => unhandled.push(r);
    process.on('unhandledRejection', onUnhandled);
    try {
      const ahead = new ClassifyAhead(['ok', 'bad', 'bad'], (s) => (s === 'ok' ? Promise.resolve(s) : Promise.reject(new Error(s))), { items: 8, bytes: 1e9 }, () => 1);
      expect(await ahead.result(0)).toBe('ok');
      await expect(ahead.result(1)).rejects.toThrow('bad');
      await new Promise((r) => setImmediate(r));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
