import type { Backend } from '@sluice/cuda-kernels';
import { EngineInvariantError } from '../errors';
import type { ModelConfig } from '../model/config';
import { LlamaModel } from '../models/llama';
import type { KvCache } from '../models/kv-cache';
import type { LlamaWeights } from '../models/llama-weights';
import { requestMasks, type MaskRow, type PendingMasks } from '../structured/pending-masks';
import { InputBatch } from './input-batch';
import { hasPenalties, Sampler, type SampledRows, type SampleRow } from './sampler';
import type { Sequence, SequenceGroup } from './sequence';
import type { PromptTokenScore, ScheduledSeq, SchedulerOutput, StepResult } from './step';

/** The batch limits a runner (its model buffers, input batch and sampler) is built for. */
export interface StepLimits {
  blockSize: number;
  maxNumSeqs: number;
  maxNumBatchedTokens: number;
  maxModelLen: number;
  /** Top logprobs a row may ask for. */
  maxTopK: number;
}

/** Builds the model's step buffers, the input batch and the sampler over a KV cache; the runner frees them. */
export function createModelRunner(backend: Backend, config: ModelConfig, weights: LlamaWeights, kv: KvCache, limits: StepLimits): ModelRunner {
  const blockTableWidth = Math.ceil(limits.maxModelLen / limits.blockSize);
  const built: Array<{ free(): void }> = [];
  try {
    const model = new LlamaModel(backend, config, weights, kv, {
      maxTokens: limits.maxNumBatchedTokens, maxLogitRows: limits.maxNumSeqs, maxPositions: limits.maxModelLen,
    });
    built.push(model);
    const batch = new InputBatch(backend, { blockSize: limits.blockSize, maxNumSeqs: limits.maxNumSeqs, maxNumBatchedTokens: limits.maxNumBatchedTokens, blockTableWidth });
    built.push(batch);
    return new ModelRunner(model, kv, new Sampler(backend, limits.maxNumSeqs, limits.maxTopK), batch);
  } catch (e) {
    for (const b of built) b.free();
    throw e;
  }
}

/** A step whose kernels are queued; collect() reads its results. */
export interface LaunchedStep {
  /** The sequence each sampled row is for, in row order. */
  targets: Sequence[];
  sampled?: SampledRows;
  promptScores: PromptTokenScore[];
  /** Set while the step's sampling waits for finishSampling (its masks need the step before it read first). */
  deferred?: { ordered: ScheduledSeq[]; lastRow: number[]; rows: PlannedRow[] };
}

/**
 * Runs a SchedulerOutput on the device in two halves: launch() queues the step's block moves, input staging,
 * forward pass and sampling; collect() brings the results back with one device-to-host read. On CUDA the
 * host may schedule the next step between the two; on CPU every op has already run when launch() returns.
 */
export class ModelRunner {
  constructor(
    private readonly model: LlamaModel,
    private readonly kv: KvCache,
    readonly sampler: Sampler,
    private readonly batch: InputBatch,
  ) {}

  /** Frees the model's step buffers, the input batch and the sampler (not the KV cache, which the caller owns). */
  free(): void {
    this.sampler.free();
    this.batch.free();
    this.model.free();
  }

  execute(plan: SchedulerOutput): StepResult {
    return this.collect(this.launch(plan));
  }

  /**
   * Queues the step. With deferConstrained (the step is launched ahead of the previous one's read), a step with
   * constrained rows queues only its forward: their masks follow from tokens the host has not read yet, so
   * finishSampling() queues the sampling once it has (on a GPU the forward's kernels run meanwhile).
   */
  launch(plan: SchedulerOutput, deferConstrained = false): LaunchedStep {
    this.kv.apply(plan.blocksToSwapOut, plan.blocksToSwapIn, plan.blocksToCopy);
    if (plan.scheduled.length === 0) return { targets: [], promptScores: [] };
    // Chunks of more than one token go through var-len prefill attention, single tokens through paged decode.
    const prefills = plan.scheduled.filter((s) => s.numTokens > 1);
    const ordered = [...prefills, ...plan.scheduled.filter((s) => s.numTokens === 1)];
    const { inputs, lastRow } = this.batch.prepare(ordered, prefills.length);
    const rows = sampleRows(ordered, lastRow);
    if (rows.length > this.model.limits.maxLogitRows) {
      throw new EngineInvariantError(`${rows.length} rows to sample exceed maxLogitRows ${this.model.limits.maxLogitRows}`);
    }
    const targets = rows.map((r) => r.seq);
    if (deferConstrained && rows.some((r) => r.seq.matcher)) {
      this.model.forward(inputs);
      return { targets, promptScores: [], deferred: { ordered, lastRow, rows } };
    }
    // The grammar thread fills this step's masks while the forward runs; sampling waits for them.
    const masks = requestMasks(maskRows(rows));
    this.model.forward(inputs);
    const step: LaunchedStep = { targets, promptScores: [] };
    this.sample(step, ordered, lastRow, rows, masks);
    return step;
  }

  /** Queues a deferred step's sampling: the step before it has been read, so its constrained rows' masks can be filled. */
  finishSampling(step: LaunchedStep): void {
    const d = step.deferred;
    if (!d) return;
    step.deferred = undefined;
    this.sample(step, d.ordered, d.lastRow, d.rows, requestMasks(maskRows(d.rows)));
  }

  // Logits of the sampled rows, sampling (masked where constrained), then prompt logprobs, in stream order.
  private sample(step: LaunchedStep, ordered: ScheduledSeq[], lastRow: number[], rows: PlannedRow[], masks: PendingMasks | undefined): void {
    if (rows.length > 0) {
      const logits = this.model.logits(Int32Array.from(rows, (r) => r.row));
      step.sampled = this.sampler.launch(logits, rows, masks);
    }
    this.batch.recordSampled(step.targets, step.sampled?.tokens);
    step.promptScores = this.scorePrompts(ordered, lastRow);
  }

  /** The one blocking read of a step: its sampled tokens and the logprobs they asked for. */
  collect(step: LaunchedStep): StepResult {
    if (step.deferred) throw new EngineInvariantError('a deferred step was read before its sampling was queued');
    if (!step.sampled) return { sampled: [], promptScores: step.promptScores };
    const results = this.sampler.read(step.sampled);
    const failures = step.sampled.failures;
    const sampled = step.targets.map((seq, i) => {
      const error = failures?.get(i);
      return error ? { seq, result: results[i], error } : { seq, result: results[i] };
    });
    return { sampled, promptScores: step.promptScores };
  }

  // Prompt logprobs: row p of a chunk scores prompt token p + 1, for requests that asked for them.
  private scorePrompts(ordered: ScheduledSeq[], lastRow: number[]): PromptTokenScore[] {
    const rows: number[] = [];
    const tokens: number[] = [];
    const topK: number[] = [];
    const where: Array<{ group: SequenceGroup; position: number }> = [];
    ordered.forEach((s, i) => {
      const group = s.seq.group;
      const k = group.params.promptLogprobs;
      if (k === undefined || s.seq !== group.seqs[0]) return;
      const start = s.seq.numComputedTokens;
      const first = lastRow[i] - s.numTokens + 1;
      for (let p = start; p < start + s.numTokens && p + 1 < s.seq.promptLen; p++) {
        rows.push(first + p - start);
        tokens.push(s.seq.tokenIds[p + 1]);
        topK.push(k);
        where.push({ group, position: p + 1 });
      }
    });
    const out: PromptTokenScore[] = [];
    const max = this.model.limits.maxLogitRows;
    for (let start = 0; start < rows.length; start += max) {
      const end = Math.min(rows.length, start + max);
      const logits = this.model.logits(Int32Array.from(rows.slice(start, end)));
      this.sampler.score(logits, Int32Array.from(tokens.slice(start, end)), topK.slice(start, end)).forEach((r, j) => {
        out.push({ ...where[start + j], result: r });
      });
    }
    return out;
  }
}

interface PlannedRow extends SampleRow {
  seq: Sequence;
  row: number;
}

// Each row's grammar as of now: a sequence that ended since the step was planned (its token will be dropped) has none.
function maskRows(rows: readonly PlannedRow[]): MaskRow[] {
  return rows.map((r) => ({ matcher: r.seq.isFinished ? undefined : r.seq.matcher, belowMinTokens: r.step + 1 < r.params.minTokens }));
}

// Each sampling sequence's row, ordered as the sampler needs: top-k rows, then logprob-only rows, then the rest.
function sampleRows(ordered: readonly ScheduledSeq[], lastRow: readonly number[]): PlannedRow[] {
  const rows: PlannedRow[] = [];
  ordered.forEach((s, i) => {
    for (const seq of s.sampleFor) {
      const p = seq.group.params;
      const topK = seq.group.clientDriven ? 2 * p.beamWidth : (p.logprobs ?? 0);
      const wantsLogprob = p.logprobs !== undefined || p.bestOf > p.n || seq.group.clientDriven;
      rows.push({
        seq, row: lastRow[i], params: p, seed: seq.seed, step: seq.outputLen, topK, wantsLogprob,
        // Only penalties read the token lists, so the output list is not copied for other rows.
        promptTokens: seq.group.promptTokenIds, outputTokens: hasPenalties(p) ? seq.outputTokens() : [],
      });
    }
  });
  const rank = (r: PlannedRow) => (r.topK > 0 ? 0 : r.wantsLogprob ? 1 : 2);
  // A stable sort: within a class rows keep the batch order.
  return rows.map((r, i) => ({ r, i })).sort((a, b) => rank(a.r) - rank(b.r) || a.i - b.i).map((x) => x.r);
}
