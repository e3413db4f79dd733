// A job's durations as the Completion record keeps them, one rule for the worker and generate.
import type { RequestTimings } from './outputs';

export interface JobTimings {
  /** From when the job was taken (read from Kafka, or from the input file) until the engine first scheduled it. */
  queued_ms: number;
  /** From when the job was taken until its first output token; null when none was made. */
  first_token_ms: number | null;
  /** From when the job was taken until it finished. */
  total_ms: number;
}

/** `waitedMs`: time between taking the job and handing it to the engine (a worker's own queue), 0 when handed at once. */
export function jobTimings(t: RequestTimings, waitedMs = 0): JobTimings {
  const since = (to: number | undefined) => (to === undefined ? undefined : Math.max(0, Math.round(waitedMs + to - t.arrivalMs)));
  return { queued_ms: since(t.firstScheduledMs) ?? 0, first_token_ms: since(t.firstTokenMs) ?? null, total_ms: since(t.finishedMs) ?? 0 };
}

/** Timings measured from a hand-off, shifted to start when the job was taken (a worker's wait before its submit). */
export function afterWait(t: JobTimings, waitedMs: number): JobTimings {
  const w = Math.max(0, Math.round(waitedMs));
  return { queued_ms: t.queued_ms + w, first_token_ms: t.first_token_ms === null ? null : t.first_token_ms + w, total_ms: t.total_ms + w };
}
