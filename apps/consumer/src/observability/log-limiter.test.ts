import { LogLimiter } from './log-limiter';

describe('LogLimiter', () => {
  it('lets the first line through, then waits 1 s, 2 s, 4 s ... up to the cap, counting what it held back', () => {
    let now = 0;
    const limiter = new LogLimiter(1_000, 4_000, () => now);
    const passed: Array<[number, number]> = [];
    // A failure every 100 ms for 20 s.
    for (now = 0; now < 20_000; now += 100) {
      const held = limiter.take('s3');
      if (held !== undefined) passed.push([now, held]);
    }
    expect(passed).toEqual([[0, 0], [1_000, 9], [3_000, 19], [7_000, 39], [11_000, 39], [15_000, 39], [19_000, 39]]);
  });

  it('starts over after a reset, and keeps keys apart', () => {
    let now = 0;
    const limiter = new LogLimiter(1_000, 60_000, () => now);
    expect(limiter.take('a')).toBe(0);
    expect(limiter.take('a')).toBeUndefined();
    expect(limiter.take('b')).toBe(0);
    limiter.reset('a');
    now = 10;
    expect(limiter.take('a')).toBe(0);
  });
});
