// The progress line of `status --watch`: a bar, jobs/s, tokens/s, failures and ETA, from what changed since the watch began.
import type { BatchStatus } from './batch-scan';

const BAR_WIDTH = 24;

export interface WatchRates {
  jobs_per_second: number;
  tokens_per_second: number;
  /** Seconds left at the current rate; null before any job was accounted for during the watch. */
  eta_seconds: number | null;
}

function duration(seconds: number): string {
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(Math.ceil(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

export class WatchProgress {
  private first: { at: number; accounted: number; tokens: number } | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  /** Rates since the first refresh (zero on it). */
  rates(s: BatchStatus): WatchRates {
    const accounted = s.done + s.failed + s.dead_lettered;
    const tokens = s.usage.completion_tokens;
    this.first ??= { at: this.now(), accounted, tokens };
    const seconds = (this.now() - this.first.at) / 1000;
    const jobsPerSecond = seconds > 0 ? (accounted - this.first.accounted) / seconds : 0;
    const tokensPerSecond = seconds > 0 ? (tokens - this.first.tokens) / seconds : 0;
    const eta = s.pending === 0 ? 0 : s.pending !== null && jobsPerSecond > 0 ? s.pending / jobsPerSecond : null;
    return { jobs_per_second: jobsPerSecond, tokens_per_second: tokensPerSecond, eta_seconds: eta };
  }

  /** e.g. `[#########---------------]  37.5% 1125/3000 | 41.2 jobs/s | 812 tokens/s | 3 failed | ETA 45s`; undefined without a job count. */
  line(s: BatchStatus, r: WatchRates): string | undefined {
    if (s.jobs === null || s.pending === null) return undefined;
    const accounted = s.jobs - s.pending;
    const share = s.jobs === 0 ? 1 : accounted / s.jobs;
    const filled = Math.round(share * BAR_WIDTH);
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`;
    const failures = s.failed + s.dead_lettered;
    const eta = r.eta_seconds === null ? 'ETA ?' : `ETA ${duration(r.eta_seconds)}`;
    return `${bar} ${(share * 100).toFixed(1).padStart(5)}% ${accounted}/${s.jobs} | ${r.jobs_per_second.toFixed(1)} jobs/s | ${Math.round(r.tokens_per_second)} tokens/s | ${failures} failed | ${eta}`;
  }
}
