import { quantile, summarize, timeRuns } from '../src/stats';

describe('summarize', () => {
  it('computes interpolated quantiles of an unsorted sample', () => {
    const s = summarize([5, 1, 4, 2, 3]);
    expect(s).toEqual({ count: 5, mean: 3, median: 3, p10: 1.4, p90: 4.6, min: 1, max: 5 });
  });

  it('refuses an empty sample and an out-of-range quantile', () => {
    expect(() => summarize([])).toThrow('empty sample');
    expect(() => quantile([1], 1.5)).toThrow('q must be in [0, 1]');
  });
});

describe('timeRuns', () => {
  it('runs warmups unmeasured and returns one non-negative time per repeat', async () => {
    let calls = 0;
    const times = await timeRuns(() => { calls++; }, 3, 2);
    expect(calls).toBe(5);
    expect(times).toHaveLength(3);
    for (const t of times) expect(t).toBeGreaterThanOrEqual(0);
  });
});
