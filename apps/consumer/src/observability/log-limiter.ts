/**
 * A repeating failure's log line at a decaying rate: the first at once, the next after minIntervalMs, then each wait
 * doubled up to maxIntervalMs, so an outage of any length logs a bounded number of lines; a success resets the key.
 */
export class LogLimiter {
  private readonly keys = new Map<string, { nextAt: number; intervalMs: number; held: number }>();

  constructor(private readonly minIntervalMs = 1_000, private readonly maxIntervalMs = 60_000, private readonly now: () => number = Date.now) {}

  /** How many lines of this key were held back since the last one let through; undefined: hold this one back too. */
  take(key: string): number | undefined {
    const t = this.now();
    const s = this.keys.get(key);
    if (!s) {
      this.keys.set(key, { nextAt: t + this.minIntervalMs, intervalMs: this.minIntervalMs, held: 0 });
      return 0;
    }
    if (t < s.nextAt) {
      s.held++;
      return undefined;
    }
    const held = s.held;
    s.intervalMs = Math.min(this.maxIntervalMs, s.intervalMs * 2);
    s.nextAt = t + s.intervalMs;
    s.held = 0;
    return held;
  }

  /** The failure is over: its next occurrence is logged at once. */
  reset(key: string): void {
    this.keys.delete(key);
  }
}
