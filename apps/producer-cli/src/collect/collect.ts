// `sluice collect`: one line per job of a batch, in input order, from the results topic or an export, to a JSONL file.
import type { Completion } from '@sluice/schema';
import { CliError, EXIT } from '../errors';
import { createKafka, serviceError } from '../kafka/client';
import type { KafkaSettings } from '../kafka/settings';
import { scanBatch, usageTotals, type BatchScan, type UsageTotals } from '../status/batch-scan';
import { deadLetterRecord } from './dead-letter-record';
import { readExport, s3ClientFromEnv } from './export-source';
import { inInputOrder } from './input-order';
import { completionLine } from '../output/completion-line';
import { LineFile } from '../output/line-file';
import { tokenBytesFromModel, type TokenBytes } from '../output/token-text';
import { METADATA_INPUT_FORMAT } from '../produce/row-to-job';

export interface CollectOptions {
  batchId: string;
  /** A file path, or `-` for stdout. */
  output: string;
  /** Error records (failed and dead-lettered jobs) go here instead of `output` when set. */
  errorsFile?: string;
  /** `s3://bucket/prefix` or `file:///dir`; the results topic when absent. */
  from?: string;
  /** S3-compatible endpoint for `from` (--s3-endpoint); SLUICE_S3_ENDPOINT when absent. */
  s3Endpoint?: string;
  /** OpenAI Batch API output lines; undefined: when the batch was produced from an OpenAI Batch input file. */
  openaiFormat?: boolean;
  /** A model directory whose tokenizer gives OpenAI output its logprobs' token text. */
  tokenizer?: string;
  /** Write what there is even if the batch is not complete. */
  partial: boolean;
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface CollectSummary {
  batch_id: string;
  source: string;
  output: string;
  errors_file: string | null;
  /** Lines written: one per input row, completions and error records (dead-lettered jobs and skipped rows included). */
  written: number;
  /** Error records among them: failed jobs, dead-lettered ones and skipped rows. */
  failed: number;
  /** Jobs the batch has, from its manifest on the batches topic; null when it has none. */
  jobs: number | null;
  dead_lettered: number;
  /** Input rows produce skipped (--skip-bad): each written as its BAD_ROW error line, in its input place. */
  skipped: number;
  /** Jobs in the batch's manifest with neither a completion nor a dead letter yet; null without a manifest. */
  pending: number | null;
  /** Export part objects manifest.json does not list (attempts that never committed), not read; null for Kafka or an export without a manifest. */
  orphans_ignored: number | null;
  usage: UsageTotals;
  /** The lines written: OpenAI Batch API output, or Sluice's Completion records. */
  format: 'openai' | 'sluice';
}

async function writeLines(output: string, errorsFile: string | undefined, records: Completion[], openai: boolean, tokenBytes?: TokenBytes): Promise<void> {
  const file = new LineFile(output);
  const errors = errorsFile ? new LineFile(errorsFile) : file;
  try {
    for (const c of records) await (c.error ? errors : file).write(completionLine(c, openai, tokenBytes));
  } catch (err) {
    await file.discard();
    if (errors !== file) await errors.discard();
    throw err;
  }
  await file.commit();
  if (errors !== file) await errors.commit();
}

// The batch's manifest and dead letters always come from Kafka; its completions too unless an export is read.
async function scan(settings: KafkaSettings, options: CollectOptions): Promise<BatchScan> {
  try {
    return await scanBatch(createKafka(settings), settings, options.batchId, { ...options, results: !options.from });
  } catch (err) {
    throw serviceError(`reading batch ${options.batchId}`, settings, err);
  }
}

interface Gathered {
  completions: Map<string, Completion>;
  source: string;
  orphans: number | null;
  /** Why the export alone is not trustworthy yet, beside the job count check. */
  exportGap?: string;
}

async function gather(settings: KafkaSettings, options: CollectOptions, kafkaScan: BatchScan): Promise<Gathered> {
  if (!options.from) return { completions: kafkaScan.completions, source: settings.topics.results, orphans: null };
  const endpoint = options.s3Endpoint;
  const read = await readExport(options.from, options.batchId, () => s3ClientFromEnv(endpoint ? { ...process.env, SLUICE_S3_ENDPOINT: endpoint } : process.env));
  // manifest.json counts records, a re-run job's repeats included; jobs are the distinct ones the rule kept.
  const exported = read.manifest ? read.manifest.completions + read.manifest.errors : null;
  const missing = exported === null ? 0 : Math.max(exported - read.records, 0);
  let exportGap: string | undefined;
  if (!read.manifest) exportGap = `the export of batch ${options.batchId} has no manifest.json yet, so it may be incomplete (every part was read, committed or not)`;
  else if (missing) exportGap = `the export manifest counts ${exported} completion records but the parts hold ${read.records}`;
  return { completions: read.completions, source: options.from, orphans: read.manifest ? read.orphans.length : null, exportGap };
}

export async function collect(settings: KafkaSettings, options: CollectOptions): Promise<CollectSummary> {
  const { batchId } = options;
  const kafkaScan = await scan(settings, options);
  const { completions, source, orphans, exportGap } = await gather(settings, options, kafkaScan);
  // A job retried after dead-lettering that then completed is written once, as completed.
  const unanswered = [...kafkaScan.deadLetters].filter(([id]) => !completions.has(id)).map(([, d]) => d);
  const dead = unanswered.map((d) => deadLetterRecord(batchId, d));
  const skipped = unanswered.filter((d) => d.skippedRow).length;
  const jobs = kafkaScan.status.jobs;
  const pending = jobs === null ? null : Math.max(jobs - completions.size - (dead.length - skipped), 0);
  let incomplete: string | undefined;
  if (jobs === null) incomplete = `batch ${batchId} has no manifest in ${settings.topics.batches} (unknown batch, or produce has not finished)`;
  else if (pending) incomplete = `${pending} of ${jobs} jobs of batch ${batchId} are still pending`;
  else incomplete = exportGap;
  if (incomplete && !options.partial) throw new CliError(EXIT.INCOMPLETE, `${incomplete}; nothing written (--partial writes what there is)`);
  const ordered = inInputOrder([...completions.values(), ...dead]);
  const openai = options.openaiFormat ?? ordered.some((c) => c.metadata[METADATA_INPUT_FORMAT] === 'openai');
  const tokenBytes = options.tokenizer && openai ? await tokenBytesFromModel(options.tokenizer) : undefined;
  await writeLines(options.output, options.errorsFile, ordered, openai, tokenBytes);
  return {
    batch_id: batchId,
    source,
    output: options.output,
    errors_file: options.errorsFile ?? null,
    written: ordered.length,
    failed: ordered.filter((c) => c.error).length,
    jobs,
    dead_lettered: dead.length - skipped,
    skipped,
    pending,
    orphans_ignored: orphans,
    format: openai ? 'openai' : 'sluice',
    usage: usageTotals(ordered),
  };
}
