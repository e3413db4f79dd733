import { PartitionHealth, type PartitionPending } from './partition-health';

const idle: PartitionPending = { inFlight: 0, uncommitted: 0, behind: false };
const work = (o: Partial<PartitionPending>): PartitionPending => ({ ...idle, ...o });

function clocked(stallTimeoutMs = 10_000, maxCommitFailures = 3) {
  const clock = { now: 0 };
  return { clock, h: new PartitionHealth({ stallTimeoutMs, maxCommitFailures }, () => clock.now) };
}

describe('PartitionHealth', () => {
  it('marks a partition stalled once it has had work pending and no progress for the stall timeout, and recovered on progress', () => {
    const { clock, h } = clocked();
    const pending = new Map([[0, work({ inFlight: 2, uncommitted: 1 })], [1, work({ inFlight: 1 })]]);
    expect(h.check(pending)).toEqual([]);
    clock.now = 5_000;
    h.progressed(1);
    clock.now = 9_999;
    expect(h.check(pending)).toEqual([]);
    expect(h.problem()).toBeUndefined();
    clock.now = 10_000;
    expect(h.check(pending)).toEqual([{ partition: 0, stalled: true, idleMs: 10_000, pending: work({ inFlight: 2, uncommitted: 1 }) }]);
    expect(h.isStalled(0)).toBe(true);
    expect(h.problem()).toBe('partition 0 stalled: work pending and no progress for 10 s');
    expect(h.check(pending)).toEqual([]); // told once
    clock.now = 12_000;
    h.progressed(0);
    expect(h.check(pending)).toEqual([{ partition: 0, stalled: false, idleMs: 0, pending: work({ inFlight: 2, uncommitted: 1 }) }]);
    expect(h.problem()).toBeUndefined();
    clock.now = 15_000;
    expect(h.check(pending).map((c) => [c.partition, c.stalled])).toEqual([[1, true]]);
  });

  it('counts messages behind the partition end as pending work', () => {
    const { clock, h } = clocked();
    h.check(new Map([[0, work({ behind: true })]]));
    clock.now = 10_000;
    expect(h.check(new Map([[0, work({ behind: true })]])).map((c) => c.stalled)).toEqual([true]);
  });

  it('does not count idle time: the clock starts when work appears', () => {
    const { clock, h } = clocked();
    h.check(new Map([[0, idle]]));
    clock.now = 3_600_000;
    expect(h.check(new Map([[0, idle]]))).toEqual([]);
    expect(h.check(new Map([[0, work({ behind: true })]]))).toEqual([]);
    clock.now += 9_999;
    expect(h.check(new Map([[0, work({ behind: true })]]))).toEqual([]);
    clock.now += 1;
    expect(h.check(new Map([[0, work({ behind: true })]])).map((c) => c.stalled)).toEqual([true]);
  });

  it('is unready after maxCommitFailures failed commits of one partition in a row, until one succeeds', () => {
    const { h } = clocked(10_000, 3);
    expect(h.commitFailed(2)).toBe(false);
    h.committed(2);
    expect(h.commitFailed(2)).toBe(false);
    expect(h.commitFailed(2)).toBe(false);
    expect(h.commitFailed(1)).toBe(false);
    expect(h.problem()).toBeUndefined();
    expect(h.commitFailed(2)).toBe(true); // the one that crosses the line, reported once
    expect(h.commitFailed(2)).toBe(false);
    expect(h.worstCommitFailures()).toBe(4);
    expect(h.problem()).toBe('partition 2: 4 commits failed in a row');
    h.committed(2);
    expect(h.worstCommitFailures()).toBe(1);
    expect(h.problem()).toBeUndefined();
  });

  it('forgets a partition that is no longer ours', () => {
    const { clock, h } = clocked();
    h.check(new Map([[0, work({ inFlight: 1 })]]));
    clock.now = 10_000;
    h.check(new Map([[0, work({ inFlight: 1 })]]));
    for (let i = 0; i < 3; i++) h.commitFailed(0);
    h.forget(0);
    expect(h.isStalled(0)).toBe(false);
    expect(h.worstCommitFailures()).toBe(0);
    expect(h.problem()).toBeUndefined();
  });
});
