/** What the controller looks at: the worker's own counts and the engine's queue. */
export interface FlowState {
  /** Jobs submitted to the engine and not finished. */
  inFlight: number;
  /** Jobs finished (or dead-lettered) whose offsets are not committed yet, all partitions together. */
  uncommitted: number;
  /** Requests waiting inside the engine's scheduler. */
  engineWaiting: number;
}

export interface FlowLimits {
  maxInFlight: number;
  maxUncommitted: number;
  maxEngineWaiting: number;
}

/**
 * Pause/resume with hysteresis: pause as soon as any count reaches its limit, resume only once all are at or
 * below half of it, so the consumer does not flap on every finished job.
 */
export class BackpressureController {
  private pausedNow = false;

  constructor(private readonly limits: FlowLimits) {}

  get paused(): boolean {
    return this.pausedNow;
  }

  /** Whether one more job may be taken now. */
  hasRoom(s: FlowState): boolean {
    return !this.pausedNow && !this.full(s);
  }

  /**
   * Why fetching is paused although nothing calls for it: the state is below the resume thresholds (a re-check was
   * missed), or nothing of ours is in flight or uncommitted (the engine's count is stale). The watchdog resumes then.
   */
  stuck(s: FlowState): string | undefined {
    if (!this.pausedNow) return undefined;
    if (this.drained(s)) return 'paused while every count is below its resume threshold';
    if (s.inFlight === 0 && s.uncommitted === 0) return 'paused with nothing in flight and nothing uncommitted';
    return undefined;
  }

  /** Leaves the paused state whatever the counts say (the watchdog's way out of a stuck pause). */
  forceResume(): void {
    this.pausedNow = false;
  }

  /** The transition the state calls for, if any. */
  update(s: FlowState): 'pause' | 'resume' | undefined {
    if (!this.pausedNow && this.full(s)) {
      this.pausedNow = true;
      return 'pause';
    }
    if (this.pausedNow && this.drained(s)) {
      this.pausedNow = false;
      return 'resume';
    }
    return undefined;
  }

  private full(s: FlowState): boolean {
    const l = this.limits;
    return s.inFlight >= l.maxInFlight || s.uncommitted >= l.maxUncommitted || s.engineWaiting >= l.maxEngineWaiting;
  }

  private drained(s: FlowState): boolean {
    const l = this.limits;
    return s.inFlight <= Math.floor(l.maxInFlight / 2) && s.uncommitted <= Math.floor(l.maxUncommitted / 2) && s.engineWaiting <= Math.floor(l.maxEngineWaiting / 2);
  }
}
