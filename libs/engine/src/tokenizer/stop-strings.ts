/**
 * The generated text of one sequence, cut at the first stop string even when that string spans several
 * tokens. While running, the last (longest stop string - 1) characters are held back from streaming so a
 * client never sees the start of a stop string that is then removed.
 */
export class StopStringText {
  private full = '';
  private emitted = 0;
  private readonly maxLen: number;
  stoppedBy: string | undefined;

  constructor(
    private readonly stops: readonly string[],
    private readonly includeStopStr: boolean,
  ) {
    this.maxLen = stops.reduce((m, s) => Math.max(m, s.length), 0);
  }

  get text(): string {
    return this.full;
  }

  /** Appends newly final text; returns the stop string that ended the sequence, if one did. */
  append(delta: string, checkStops = true): string | undefined {
    if (this.stoppedBy !== undefined || delta.length === 0) return undefined;
    const searchFrom = Math.max(0, this.full.length - this.maxLen + 1);
    this.full += delta;
    if (!checkStops) return undefined;
    let best = -1;
    let match: string | undefined;
    for (const s of this.stops) {
      const i = this.full.indexOf(s, searchFrom);
      if (i >= 0 && (best < 0 || i < best)) {
        best = i;
        match = s;
      }
    }
    if (match === undefined) return undefined;
    this.full = this.full.slice(0, this.includeStopStr ? best + match.length : best);
    this.emitted = Math.min(this.emitted, this.full.length);
    this.stoppedBy = match;
    return match;
  }

  /** Text not yet streamed that can no longer change; `final` releases the held-back tail. */
  takeDelta(final: boolean): string {
    const holdBack = final || this.stoppedBy !== undefined || this.includeStopStr ? 0 : Math.max(0, this.maxLen - 1);
    const end = Math.max(this.emitted, this.full.length - holdBack);
    const d = this.full.slice(this.emitted, end);
    this.emitted = end;
    return d;
  }
}
