// `sluice collect`: a batch's completions in input order, from the results topic or an export, to a JSONL file.
import type { Completion } from '@sluice/schema';
import { CliError, EXIT } from '../errors';
import { createKafka, serviceError } from '../kafka/client';
import type { KafkaSettings } from '../kafka/settings';
import { scanBatch } from '../status/batch-scan';
import { readExport } from './export-source';
import { inInputOrder } from './input-order';
import { completionLine } from '../output/completion-line';
import { LineFile } from '../output/line-file';

export interface CollectOptions {
  batchId: string;
  /** A file path, or `-` for stdout. */
  output: string;
  /** `s3://bucket/prefix` or `file:///dir`; the results topic when absent. */
  from?: string;
  openaiFormat: boolean;
  /** Write what there is even if the batch is not complete. */
  partial: boolean;
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface CollectSummary {
  batch_id: string;
  source: string;
  output: string;
  written: number;
  failed: number;
  /** Jobs the batch has, when known: the batch manifest's count (Kafka), or the distinct jobs an export with a manifest holds. */
  jobs: number | null;
  dead_lettered: number | null;
  /** Kafka: jobs not yet accounted for; export: completion records manifest.json counts that its parts lack. */
  pending: number | null;
  /** Export part objects manifest.json does not list (attempts that never committed), not read; null for Kafka or an export without a manifest. */
  orphans_ignored: number | null;
}

async function writeLines(output: string, completions: Completion[], openai: boolean): Promise<void> {
  const file = new LineFile(output);
  try {
    for (const c of completions) await file.write(completionLine(c, openai));
  } catch (err) {
    await file.discard();
    throw err;
  }
  await file.commit();
}

export async function collect(settings: KafkaSettings, options: CollectOptions): Promise<CollectSummary> {
  const { batchId } = options;
  let completions: Map<string, Completion>;
  let summary: Omit<CollectSummary, 'written' | 'failed' | 'output'>;
  let incomplete: string | undefined;
  if (options.from) {
    const read = await readExport(options.from, batchId);
    completions = read.completions;
    // manifest.json counts records, a re-run job's repeats included; jobs are the distinct ones the rule kept.
    const exported = read.manifest ? read.manifest.completions + read.manifest.errors : null;
    const missing = exported === null ? null : Math.max(exported - read.records, 0);
    summary = { batch_id: batchId, source: options.from, jobs: read.manifest ? completions.size : null, dead_lettered: null, pending: missing, orphans_ignored: read.manifest ? read.orphans.length : null };
    if (!read.manifest) incomplete = `the export of batch ${batchId} has no manifest.json yet, so it may be incomplete (every part was read, committed or not)`;
    else if (missing) incomplete = `the export manifest counts ${exported} completion records but the parts hold ${read.records}`;
  } else {
    let scan;
    try {
      scan = await scanBatch(createKafka(settings), settings, batchId, options);
    } catch (err) {
      throw serviceError(`reading batch ${batchId}`, settings, err);
    }
    completions = scan.completions;
    const { jobs, dead_lettered, pending } = scan.status;
    summary = { batch_id: batchId, source: settings.topics.results, jobs, dead_lettered, pending, orphans_ignored: null };
    if (jobs === null) incomplete = `batch ${batchId} has no manifest in ${settings.topics.batches} (unknown batch, or produce has not finished)`;
    else if ((pending ?? 0) > 0) incomplete = `${pending} of ${jobs} jobs of batch ${batchId} are still pending`;
  }
  if (incomplete && !options.partial) throw new CliError(EXIT.INCOMPLETE, `${incomplete}; nothing written (--partial writes what there is)`);
  const ordered = inInputOrder(completions.values());
  await writeLines(options.output, ordered, options.openaiFormat);
  return { ...summary, output: options.output, written: ordered.length, failed: ordered.filter((c) => c.error).length };
}
