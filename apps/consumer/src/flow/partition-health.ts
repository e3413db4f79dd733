/** What a partition still has to do: work is pending while any of these is non-zero (or it is behind its end). */
export interface PartitionPending {
  inFlight: number;
  uncommitted: number;
  /** Messages remain past what was taken: the last fetched batch did not reach the partition's end. */
  behind: boolean;
}

export interface HealthLimits {
  /** A partition with pending work and no progress for this long is stalled. */
  stallTimeoutMs: number;
  /** This many failed commits of one partition in a row make the worker unready. */
  maxCommitFailures: number;
}

/** A partition turning stalled or recovering, for the log and the gauge. */
export interface StallChange {
  partition: number;
  stalled: boolean;
  idleMs: number;
  pending: PartitionPending;
}

interface Progress {
  /** When the partition last made progress, or last had nothing to do (idle time is not stall time). */
  since: number;
  stalled: boolean;
  commitFailures: number;
}

const hasWork = (p: PartitionPending) => p.inFlight > 0 || p.uncommitted > 0 || p.behind;

/**
 * Per-partition progress and commit health behind /readyz. Progress is a job taken, finished or committed; a
 * partition is stalled when it has had work pending and no progress for the stall timeout, and commits "keep
 * failing" once one partition has failed maxCommitFailures commits in a row. The clock is injected for tests.
 */
export class PartitionHealth {
  private readonly parts = new Map<number, Progress>();

  constructor(
    private readonly limits: HealthLimits,
    private readonly now: () => number = Date.now,
  ) {}

  private part(partition: number): Progress {
    let p = this.parts.get(partition);
    if (!p) this.parts.set(partition, (p = { since: this.now(), stalled: false, commitFailures: 0 }));
    return p;
  }

  /** A job of the partition was taken, finished or committed. */
  progressed(partition: number): void {
    this.part(partition).since = this.now();
  }

  /** Returns true when this failure is the one that makes the worker unready. */
  commitFailed(partition: number): boolean {
    const p = this.part(partition);
    p.commitFailures++;
    return p.commitFailures === this.limits.maxCommitFailures;
  }

  committed(partition: number): void {
    this.part(partition).commitFailures = 0;
    this.progressed(partition);
  }

  /** The partition is no longer ours. */
  forget(partition: number): void {
    this.parts.delete(partition);
  }

  /** Re-evaluates every owned partition; returns those that turned stalled or recovered. */
  check(pending: ReadonlyMap<number, PartitionPending>): StallChange[] {
    const now = this.now();
    const changes: StallChange[] = [];
    for (const [partition, work] of pending) {
      const p = this.part(partition);
      if (!hasWork(work)) p.since = now;
      const stalled = now - p.since >= this.limits.stallTimeoutMs;
      if (stalled !== p.stalled) changes.push({ partition, stalled, idleMs: now - p.since, pending: work });
      p.stalled = stalled;
    }
    return changes;
  }

  isStalled(partition: number): boolean {
    return this.parts.get(partition)?.stalled ?? false;
  }

  /** The most failed commits in a row of any partition. */
  worstCommitFailures(): number {
    let worst = 0;
    for (const p of this.parts.values()) worst = Math.max(worst, p.commitFailures);
    return worst;
  }

  /** One line saying why the worker is not ready, or undefined when every partition is healthy. */
  problem(): string | undefined {
    for (const [partition, p] of this.parts) {
      if (p.commitFailures >= this.limits.maxCommitFailures) return `partition ${partition}: ${p.commitFailures} commits failed in a row`;
    }
    const stalled = [...this.parts].filter(([, p]) => p.stalled).map(([partition]) => partition);
    if (stalled.length > 0) return `partition${stalled.length > 1 ? 's' : ''} ${stalled.join(', ')} stalled: work pending and no progress for ${Math.round(this.limits.stallTimeoutMs / 1000)} s`;
    return undefined;
  }
}
