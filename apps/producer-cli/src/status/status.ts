// `sluice status`: the batch's counts once, or redrawn every few seconds until nothing is pending (--watch).
import { setTimeout as sleep } from 'node:timers/promises';
import { createKafka, serviceError } from '../kafka/client';
import type { KafkaSettings } from '../kafka/settings';
import { CliError, EXIT } from '../errors';
import { scanBatch, type BatchStatus } from './batch-scan';
import { failuresOf, formatFailures } from './failures';
import { WatchProgress } from './watch-progress';

/** How long --watch waits for a batch nothing is known of (its produce may just be starting) before it gives up. */
export const UNKNOWN_BATCH_GRACE_MS = 30_000;

/** No manifest and no completion, dead letter or unreadable record of the batch: an id nobody produced (yet). */
const unknown = (s: BatchStatus) => s.jobs === null && s.done + s.failed + s.dead_lettered + s.unreadable === 0;

export interface StatusOptions {
  batchId: string;
  json: boolean;
  /** Seconds between refreshes; undefined shows the status once. */
  watchSeconds?: number;
  timeoutMs: number;
  /** Redraw each refresh over the previous one (a terminal, text output) instead of printing below it. */
  redraw?: boolean;
  /** Also list every failed and dead-lettered job (job id, code, reason). */
  failures?: boolean;
  signal?: AbortSignal;
  /** Overrides UNKNOWN_BATCH_GRACE_MS (tests). */
  unknownGraceMs?: number;
}

// ANSI: cursor up `n` lines, then clear to the end of the screen.
const overwrite = (n: number) => `\x1b[${n}A\x1b[J`;

export function formatStatus(s: BatchStatus): string {
  const jobs = s.jobs === null ? 'unknown (no batch manifest yet)' : String(s.jobs);
  const rows: Array<[string, string | number]> = [
    ['jobs', jobs],
    ['done', s.done],
    ['failed', s.failed],
    ['dead-lettered', s.dead_lettered],
    ['pending', s.pending ?? 'unknown'],
  ];
  if (s.unreadable) rows.push(['unreadable', s.unreadable]);
  rows.push(['prompt tokens', s.usage.prompt_tokens], ['cached tokens', s.usage.cached_tokens], ['output tokens', s.usage.completion_tokens]);
  const source = s.manifest ? ` (from ${s.manifest.source})` : '';
  return [`batch ${s.batch_id}${source}`, ...rows.map(([k, v]) => `  ${k.padEnd(14)}${String(v).padStart(10)}`)].join('\n');
}

export async function status(settings: KafkaSettings, options: StatusOptions, print: (text: string) => void): Promise<BatchStatus> {
  const kafka = createKafka(settings);
  const progress = new WatchProgress();
  const startedAt = Date.now();
  let shown = 0;
  for (;;) {
    let current: BatchStatus;
    let failures;
    try {
      const scan = await scanBatch(kafka, settings, options.batchId, options);
      current = scan.status;
      if (options.failures) failures = failuresOf(options.batchId, scan);
    } catch (err) {
      throw serviceError(`reading batch ${options.batchId}`, settings, err);
    }
    // Shown once, an unknown batch reads as such (jobs unknown); watched, it would never end.
    if (options.watchSeconds !== undefined && unknown(current) && Date.now() - startedAt >= (options.unknownGraceMs ?? UNKNOWN_BATCH_GRACE_MS)) {
      const waited = Math.round((Date.now() - startedAt) / 1000);
      throw new CliError(EXIT.INCOMPLETE, `batch ${options.batchId} not found after ${waited} s: no manifest on ${settings.topics.batches} and no record of it on ${settings.topics.results} or ${settings.topics.dlq}`);
    }
    const rates = options.watchSeconds === undefined ? undefined : progress.rates(current);
    const bar = rates && progress.line(current, rates);
    const listed = failures ? `\n${formatFailures(failures)}` : '';
    const text = options.json ? JSON.stringify({ ...current, manifest: undefined, failures, progress: rates }) : `${formatStatus(current)}${bar ? `\n${bar}` : ''}${listed}`;
    print(options.redraw && shown ? `${overwrite(shown)}${text}` : text);
    shown = text.split('\n').length;
    if (options.watchSeconds === undefined || current.pending === 0 || options.signal?.aborted) return current;
    try {
      await sleep(options.watchSeconds * 1000, undefined, { signal: options.signal });
    } catch (err) {
      // Interrupted while waiting: the status just printed is the answer.
      if (options.signal?.aborted) return current;
      throw err;
    }
  }
}
