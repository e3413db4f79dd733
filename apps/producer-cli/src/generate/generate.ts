// `sluice generate`: offline batch inference from a file with a local model, no Kafka; lines in input order.
import { hostname } from 'node:os';
import {
  completionRecord, EngineError, errorCompletionRecord, jobOutcomeOf, jobTimings, ModelLoadError, resultToWire, TokenizerError,
  type CompletionContext, type RequestOutput, type SamplingParams, type SamplingParamsInit } from '@sluice/engine';
import { METADATA_SEQ, modelMismatch, type PromptJob } from '@sluice/schema';
import { CliError, EXIT } from '../errors';
import { openInput } from '../input/detect';
import { BadRows, jobRows, type SkippedRow } from '../input/job-rows';
import type { InputFormat } from '../input/input-row';
import { logger } from '../logger';
import { completionLine } from '../output/completion-line';
import { LineFile } from '../output/line-file';
import { tokenBytesFromModel } from '../output/token-text';
import type { MappingOptions } from '../produce/row-to-job';
import { ProgressBar } from '../progress';
import { skippedRowLetter } from '../produce/skipped-rows';
import { deadLetterRecord } from '../collect/dead-letter-record';
import { engineRequest, type EngineInput } from './engine-request';
import { InOrder } from './in-order';

/** What generate needs of an engine: @sluice/engine's AsyncEngine has this shape. */
export interface GenerateEngine {
  readonly modelName: string;
  add(request: { id: string; input: EngineInput; params?: SamplingParams | SamplingParamsInit; priority?: number }): Promise<RequestOutput>;
  shutdown(): Promise<void>;
}

export interface EngineSettings {
  model: string;
  device: 'cpu' | 'cuda';
  /** The weights' dtype (EngineOptions.dtype). */
  dtype?: 'auto' | 'float32' | 'bfloat16' | 'float16';
  /** The KV cache's dtype (EngineOptions.kvCacheDtype). */
  kvCacheDtype?: 'auto' | 'bfloat16';
  maxNumSeqs?: number;
  kvCacheBytes?: number;
  maxModelLen?: number;
  /** Longest one structured-output constraint may compile (EngineOptions.grammarCompileTimeoutMs). */
  grammarCompileTimeoutMs?: number;
  /** Longest one row's next-token mask may take (EngineOptions.grammarMaskTimeoutMs). */
  grammarMaskTimeoutMs?: number;
  /** Grammar threads (EngineOptions.grammarThreads). */
  grammarThreads?: number;
}

export type StartEngine = (settings: EngineSettings) => Promise<GenerateEngine>;

export interface GenerateOptions {
  engine: EngineSettings;
  input: string;
  format?: InputFormat;
  /** A file path, or `-` for stdout. */
  output: string;
  batchId: string;
  mapping: Omit<MappingOptions, 'format' | 'batchId'>;
  skipBad: boolean;
  /** OpenAI Batch API output lines; undefined: when the input is an OpenAI Batch API file. */
  openaiFormat?: boolean;
  /** Names rows may give for the model besides its own (--served-model-name); other names get MODEL_MISMATCH, as in a worker. */
  servedModelNames?: readonly string[];
  progress: boolean;
  signal?: AbortSignal;
}

export interface GenerateSummary {
  batch_id: string;
  model: string;
  source: string;
  format: InputFormat;
  output: string;
  requests: number;
  /** Requests the engine refused (written as error lines). */
  failed: number;
  bad_rows: number;
  bad_examples: string[];
  prompt_tokens: number;
  completion_tokens: number;
  /** Prompt tokens served from the prefix cache. */
  cached_tokens: number;
  seconds: number;
  tokens_per_second: number;
}

// Requests handed to the engine ahead of the ones it runs, so its scheduler always has a full queue to pick from.
const AHEAD = 2;
// The engine's default maxNumSeqs, used when --max-num-seqs is not given.
const ENGINE_MAX_NUM_SEQS = 64;


function engineFailure(model: string, err: unknown): CliError {
  if (err instanceof CliError) return err;
  // Model load errors name the file already.
  if (err instanceof ModelLoadError) return new CliError(EXIT.ENGINE, `cannot load the model: ${err.message}`, { cause: err });
  if (err instanceof TokenizerError) return new CliError(EXIT.ENGINE, `cannot load the tokenizer of ${model}: ${err.message}`, { cause: err });
  if (err instanceof EngineError) return new CliError(EXIT.ENGINE, `engine failed: ${err.message}`, { cause: err });
  return new CliError(EXIT.ENGINE, `engine failed: ${(err as Error).message ?? String(err)}`, { cause: err });
}

export async function generate(options: GenerateOptions, startEngine: StartEngine): Promise<GenerateSummary> {
  const started = Date.now();
  const source = await openInput(options.input, options.format);
  const mapping: MappingOptions = { ...options.mapping, format: source.format, batchId: options.batchId };
  // The model loads while the file is checked; a settled rejection is kept so it is never unhandled.
  const starting = startEngine(options.engine).then(
    (engine) => ({ engine }),
    (error: unknown) => ({ error }),
  );

  // First pass: every row checked and counted before any compute, so a bad row stops the run at once.
  const bad = new BadRows(options.skipBad, options.batchId);
  let total = 0;
  let wantsLogprobs = false;
  try {
    for await (const { job } of jobRows(source, mapping, bad, engineRequest)) {
      if (options.signal?.aborted) throw new CliError(EXIT.INTERRUPTED, `interrupted while checking ${options.input}; nothing generated`);
      total += 1;
      wantsLogprobs ||= job.sampling?.logprobs != null;
    }
  } catch (err) {
    const loaded = await starting;
    if ('engine' in loaded) await loaded.engine.shutdown();
    throw err;
  }
  const loaded = await starting;
  if ('error' in loaded) throw engineFailure(options.engine.model, loaded.error);
  const { engine } = loaded;

  const ctx: CompletionContext = { model: engine.modelName, workerId: `sluice-generate-${hostname()}-${process.pid}` };
  const file = new LineFile(options.output);
  const lines = new InOrder((line) => file.write(line));
  const bar = new ProgressBar('generate', total, options.progress);
  const onAbort = () => void engine.shutdown();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let done = 0;
  let failed = 0;
  let promptTokens = 0;
  let completionTokens = 0;
  let cachedTokens = 0;
  let failure: unknown;

  const served = [engine.modelName, ...(options.servedModelNames ?? [])];
  const openai = options.openaiFormat ?? source.format === 'openai';
  // OpenAI's logprobs show token text: the model's own tokenizer gives it.
  const tokenBytes = openai && wantsLogprobs
    ? await tokenBytesFromModel(options.engine.model).catch(async (err: unknown) => {
      await engine.shutdown();
      throw engineFailure(options.engine.model, err);
    })
    : undefined;
  // Every outcome code comes from @sluice/schema's one table, as a worker's (jobOutcomeOf, modelMismatch).
  const refuse = (job: PromptJob, code: string, message: string, takenAt: number) => {
    failed += 1;
    logger.info({ batch_id: options.batchId, job_id: job.job_id, code }, message);
    return completionLine(errorCompletionRecord(job, { code, message }, ctx, Date.now() - takenAt), openai, tokenBytes);
  };
  const skippedRowLine = (row: SkippedRow) => {
    const dead = { letter: skippedRowLetter(row, options.batchId, options.input, mapping.idField), seq: row.seq, skippedRow: true };
    return completionLine(deadLetterRecord(options.batchId, dead, ctx), openai, tokenBytes);
  };
  const lineOf = async (job: PromptJob, request: ReturnType<typeof engineRequest>): Promise<string> => {
    const takenAt = Date.now();
    const mismatch = modelMismatch(job.model, served);
    if (mismatch) return refuse(job, 'MODEL_MISMATCH', mismatch, takenAt);
    try {
      const out = await engine.add({ id: job.job_id, ...request });
      promptTokens += out.usage.promptTokens;
      completionTokens += out.usage.completionTokens;
      cachedTokens += out.usage.cachedPromptTokens;
      // The worker's rule (jobTimings): from when the job was taken; generate hands each job to the engine as it takes it.
      return completionLine(completionRecord(job, resultToWire(out), jobTimings(out.timings), ctx), openai, tokenBytes);
    } catch (err) {
      const refused = jobOutcomeOf(err);
      if (!refused) throw err;
      return refuse(job, refused.code, refused.message, takenAt);
    }
  };
  const run = async (index: number, job: PromptJob, request: ReturnType<typeof engineRequest>): Promise<void> => {
    const line = await lineOf(job, request);
    await lines.put(index, line);
    done += 1;
    bar.update(done, `${done}/${total} requests, ${Math.round(bar.rate(completionTokens))} tok/s`);
  };

  try {
    const inflight = new Set<Promise<void>>();
    const limit = AHEAD * (options.engine.maxNumSeqs ?? ENGINE_MAX_NUM_SEQS);
    // Each row skipped with --skip-bad still gets its line, in its place: the BAD_ROW record collect writes for it.
    for (const row of bad.skipped) lines.put(row.seq, skippedRowLine(row)).catch((err: unknown) => void (failure ??= err));
    // Second pass: the same rows again (bad ones were reported above), streamed into the engine; a row's line goes
    // at its input position, which counts the skipped rows too.
    for await (const { job, prepared } of jobRows(source, mapping, new BadRows(true, options.batchId), engineRequest)) {
      if (failure || options.signal?.aborted) break;
      const p: Promise<void> = run(Number(job.metadata[METADATA_SEQ]), job, prepared)
        .catch((err: unknown) => void (failure ??= err))
        .finally(() => inflight.delete(p));
      inflight.add(p);
      if (inflight.size >= limit) await Promise.race(inflight);
    }
    await Promise.all(inflight);
    if (options.signal?.aborted) throw new CliError(EXIT.INTERRUPTED, `interrupted after ${done} of ${total} requests; nothing written to ${options.output}`);
    if (failure) throw engineFailure(options.engine.model, failure);
    await file.commit();
  } catch (err) {
    await file.discard();
    throw engineFailure(options.engine.model, err);
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    bar.stop();
    await engine.shutdown();
  }

  const seconds = (Date.now() - started) / 1000;
  return {
    batch_id: options.batchId,
    model: engine.modelName,
    source: options.input,
    format: source.format,
    output: options.output,
    requests: done,
    failed,
    bad_rows: bad.count,
    bad_examples: bad.examples,
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    cached_tokens: cachedTokens,
    seconds,
    tokens_per_second: completionTokens / Math.max(seconds, 1e-3),
  };
}
