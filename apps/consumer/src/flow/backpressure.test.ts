import { BackpressureController, type FlowState } from './backpressure';

const limits = { maxInFlight: 10, maxUncommitted: 100, maxEngineWaiting: 8 };
const state = (o: Partial<FlowState>): FlowState => ({ inFlight: 0, uncommitted: 0, engineWaiting: 0, ...o });

describe('BackpressureController', () => {
  it('pauses at any limit and resumes only below half of every limit', () => {
    const c = new BackpressureController(limits);
    expect(c.update(state({ inFlight: 9 }))).toBeUndefined();
    expect(c.hasRoom(state({ inFlight: 9 }))).toBe(true);
    expect(c.update(state({ inFlight: 10 }))).toBe('pause');
    expect(c.paused).toBe(true);
    expect(c.hasRoom(state({}))).toBe(false);
    expect(c.update(state({ inFlight: 6 }))).toBeUndefined();
    expect(c.update(state({ inFlight: 5, uncommitted: 51 }))).toBeUndefined();
    expect(c.update(state({ inFlight: 5, uncommitted: 50 }))).toBe('resume');
    expect(c.update(state({ engineWaiting: 8 }))).toBe('pause');
    expect(c.update(state({ engineWaiting: 4 }))).toBe('resume');
  });

  it('property: in-flight never exceeds the limit when jobs are only taken while there is room', () => {
    const c = new BackpressureController(limits);
    let s = state({});
    let max = 0;
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (let step = 0; step < 10_000; step++) {
      if (rand() < 0.6) {
        if (c.hasRoom(s)) s = { ...s, inFlight: s.inFlight + 1 };
      } else if (s.inFlight > 0) {
        s = { ...s, inFlight: s.inFlight - 1 };
      }
      c.update(s);
      max = Math.max(max, s.inFlight);
    }
    expect(max).toBe(limits.maxInFlight);
  });
});

describe('BackpressureController.stuck', () => {
  it('names a pause that nothing calls for any more, and only that', () => {
    const c = new BackpressureController(limits);
    expect(c.stuck(state({}))).toBeUndefined(); // not paused
    c.update(state({ engineWaiting: 8, inFlight: 6 }));
    expect(c.stuck(state({ engineWaiting: 8, inFlight: 6 }))).toBeUndefined(); // full: the pause is right
    expect(c.stuck(state({ engineWaiting: 5, inFlight: 1 }))).toBeUndefined(); // between the thresholds: still right
    expect(c.stuck(state({ engineWaiting: 4, inFlight: 5 }))).toBe('paused while every count is below its resume threshold');
    expect(c.stuck(state({ engineWaiting: 8 }))).toBe('paused with nothing in flight and nothing uncommitted');
    c.forceResume();
    expect(c.paused).toBe(false);
    expect(c.stuck(state({ engineWaiting: 8 }))).toBeUndefined();
  });
});
