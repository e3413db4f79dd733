import type { Backend } from '@sluice/cuda-kernels';
import type { DeviceMemoryUse } from './kv-budget';
import type { ModelConfig } from './model/config';
import { LlamaModel, type ForwardInput } from './models/llama';
import { KvCache } from './models/kv-cache';
import type { LlamaWeights } from './models/llama-weights';
import type { TokenLogprob } from './outputs';
import { Sampler, SampleRow } from './sampler';
import { SamplingParams } from './sampling-params';
import type { ScheduledSeq, SchedulerOutput } from './scheduler';
import { SequenceGroup, type Sequence } from './sequence';

export interface RunnerLimits {
  blockSize: number;
  maxNumSeqs: number;
  maxNumBatchedTokens: number;
  blockTableWidth: number;
}

/** A token sampled for a sequence this step. */
export interface SampledToken {
  seq: Sequence;
  group: SequenceGroup;
  result: TokenLogprob;
}

/** The score of prompt token `position` given the tokens before it. */
export interface PromptTokenScore {
  group: SequenceGroup;
  position: number;
  result: TokenLogprob;
}

export interface StepResult {
  sampled: SampledToken[];
  promptScores: PromptTokenScore[];
}

/** Per-sequence sampling state the engine owns: the RNG seed of each sequence. */
export type SeedOf = (seq: Sequence, group: SequenceGroup) => bigint;

/** The batch limits a runner (its model buffers and sampler) is built for. */
export interface StepLimits {
  blockSize: number;
  maxNumSeqs: number;
  maxNumBatchedTokens: number;
  maxModelLen: number;
  /** Top logprobs a row may ask for. */
  maxTopK: number;
}

/** Builds the model's step buffers and the sampler over a KV cache; the runner frees both. */
export function createModelRunner(backend: Backend, config: ModelConfig, weights: LlamaWeights, kv: KvCache, limits: StepLimits): ModelRunner {
  const blockTableWidth = Math.ceil(limits.maxModelLen / limits.blockSize);
  const model = new LlamaModel(backend, config, weights, kv, {
    maxTokens: limits.maxNumBatchedTokens, maxSeqs: limits.maxNumSeqs, maxLogitRows: limits.maxNumSeqs,
    maxPositions: limits.maxModelLen, blockTableWidth,
  });
  let sampler: Sampler;
  try {
    sampler = new Sampler(backend, limits.maxNumSeqs, limits.maxTopK);
  } catch (e) {
    model.free();
    throw e;
  }
  return new ModelRunner(model, kv, sampler, {
    blockSize: limits.blockSize, maxNumSeqs: limits.maxNumSeqs, maxNumBatchedTokens: limits.maxNumBatchedTokens, blockTableWidth,
  });
}

/** What the device-memory KV budget needs, read once the weights are loaded: device figures and a profiled step. */
export function measureDeviceMemory(backend: Backend, config: ModelConfig, weights: LlamaWeights, limits: StepLimits): DeviceMemoryUse {
  backend.synchronize();
  const s = backend.memoryStats();
  const { peakActivationBytes } = profileForwardPass(backend, config, weights, limits);
  return { totalDeviceBytes: s.totalDeviceBytes, usedBytesAfterWeights: deviceUsed(s), peakActivationBytes };
}

/** One profiled step of the largest batch: its shape and the memory it took on top of what was in use before. */
export interface ForwardProfile {
  numSeqs: number;
  numTokens: number;
  /** Step buffers, sampler, op temporaries and memory outside the backend's pool, at their peak. */
  peakActivationBytes: number;
}

// Device-wide bytes in use; 0 on CPU, where the backend reports no device.
function deviceUsed(s: ReturnType<Backend['memoryStats']>): number {
  return s.totalDeviceBytes - s.freeDeviceBytes;
}

/**
 * Runs one prefill step of the largest batch the scheduler can build (maxNumBatchedTokens tokens spread
 * over as many sequences as maxNumSeqs allows), sampling every sequence, on step buffers and a KV cache of
 * its own that hold one sequence's blocks (every sequence writes the same blocks: the values are thrown away),
 * and reports the memory it took. Leaves no allocation behind but what the backend's pool keeps cached.
 */
export function profileForwardPass(backend: Backend, config: ModelConfig, weights: LlamaWeights, limits: StepLimits): ForwardProfile {
  const numSeqs = Math.min(limits.maxNumSeqs, limits.maxNumBatchedTokens);
  const numTokens = Math.min(limits.maxNumBatchedTokens, numSeqs * limits.maxModelLen);
  const lens = Array.from({ length: numSeqs }, (_, i) => Math.floor(numTokens / numSeqs) + (i < numTokens % numSeqs ? 1 : 0));
  const table = Array.from({ length: Math.ceil(lens[0] / limits.blockSize) }, (_, b) => b);
  const kv = new KvCache(backend, {
    numLayers: config.numLayers, numBlocks: table.length, numHostBlocks: 0, blockSize: limits.blockSize,
    numKvHeads: config.numKvHeads, headDim: config.headDim, dtype: weights.embed.dtype,
  });
  let runner: ModelRunner | undefined;
  try {
    backend.synchronize();
    const before = backend.memoryStats();
    runner = createModelRunner(backend, config, weights, kv, limits);
    const params = new SamplingParams({ temperature: 0, maxTokens: 1, logprobs: limits.maxTopK });
    const scheduled: ScheduledSeq[] = lens.map((len, i) => {
      const group = new SequenceGroup(`profile-${i}`, new Array<number>(len).fill(0), params);
      return { seq: group.seqs[0], group, numTokens: len, blockTable: table, sampleFor: [group.seqs[0]] };
    });
    runner.execute({ scheduled, numBatchedTokens: numTokens, blocksToSwapOut: [], blocksToSwapIn: [], blocksToCopy: [], preempted: [] }, () => 0n);
    backend.synchronize();
    const after = backend.memoryStats();
    // Live buffers; pool growth from op temporaries freed again; allocations outside the pool seen only by the device.
    const peakActivationBytes = Math.max(
      after.allocatedBytes - before.allocatedBytes,
      after.allocatedBytes + after.cachedBytes - before.allocatedBytes - before.cachedBytes,
      deviceUsed(after) - deviceUsed(before),
    );
    return { numSeqs, numTokens, peakActivationBytes };
  } finally {
    runner?.free();
    kv.free();
  }
}

/**
 * Turns a SchedulerOutput into the model's inputs (token ids, positions, slot mapping, block tables,
 * context lengths, cu_seqlens), runs the step's block moves, the forward pass and the sampler.
 * Host staging arrays are allocated once at their largest size.
 */
export class ModelRunner {
  private readonly tokenIds: Int32Array;
  private readonly positions: Int32Array;
  private readonly slots: Int32Array;
  private readonly cuSeqlens: Int32Array;
  private readonly tables: Int32Array;
  private readonly contextLens: Int32Array;
  private readonly maxLogitRows: number;

  constructor(
    private readonly model: LlamaModel,
    private readonly kv: KvCache,
    readonly sampler: Sampler,
    private readonly limits: RunnerLimits,
  ) {
    const T = limits.maxNumBatchedTokens;
    this.tokenIds = new Int32Array(T);
    this.positions = new Int32Array(T);
    this.slots = new Int32Array(T);
    this.cuSeqlens = new Int32Array(limits.maxNumSeqs + 1);
    this.tables = new Int32Array(limits.maxNumSeqs * limits.blockTableWidth);
    this.contextLens = new Int32Array(limits.maxNumSeqs);
    this.maxLogitRows = model.limits.maxLogitRows;
  }

  /** Frees the model's step buffers and the sampler (not the KV cache, which the caller owns). */
  free(): void {
    this.sampler.free();
    this.model.free();
  }

  execute(out: SchedulerOutput, seedOf: SeedOf): StepResult {
    this.kv.apply(out.blocksToSwapOut, out.blocksToSwapIn, out.blocksToCopy);
    if (out.scheduled.length === 0) return { sampled: [], promptScores: [] };
    // Chunks of more than one token go through var-len prefill attention, single tokens through paged decode.
    const prefills = out.scheduled.filter((s) => s.numTokens > 1);
    const decodes = out.scheduled.filter((s) => s.numTokens === 1);
    const ordered = [...prefills, ...decodes];
    const lastRow = this.layout(ordered, prefills.length);
    const result: StepResult = { sampled: [], promptScores: [] };

    const rows: number[] = [];
    const sampleRows: SampleRow[] = [];
    const targets: Array<{ seq: Sequence; group: SequenceGroup }> = [];
    ordered.forEach((s, i) => {
      for (const seq of s.sampleFor) {
        rows.push(lastRow[i]);
        sampleRows.push({
          params: s.group.params, seed: seedOf(seq, s.group), step: seq.outputLen,
          promptTokens: s.group.promptTokenIds, outputTokens: seq.tokenIds.slice(seq.promptLen),
        });
        targets.push({ seq, group: s.group });
      }
    });
    for (let start = 0; start < rows.length; start += this.maxLogitRows) {
      const end = Math.min(rows.length, start + this.maxLogitRows);
      const logits = this.model.logits(Int32Array.from(rows.slice(start, end)));
      this.sampler.sample(logits, sampleRows.slice(start, end)).forEach((r, j) => {
        result.sampled.push({ ...targets[start + j], result: r });
      });
    }
    this.scorePrompts(ordered, lastRow, result.promptScores);
    return result;
  }

  // Writes the host staging arrays and runs the forward pass; returns each entry's last row.
  private layout(ordered: ScheduledSeq[], numPrefill: number): number[] {
    const bs = this.limits.blockSize;
    const W = this.limits.blockTableWidth;
    const lastRow: number[] = [];
    let row = 0;
    this.cuSeqlens[0] = 0;
    this.tables.fill(0, 0, ordered.length * W);
    ordered.forEach((s, i) => {
      const start = s.seq.numComputedTokens;
      for (let j = 0; j < s.numTokens; j++, row++) {
        const p = start + j;
        this.tokenIds[row] = s.seq.tokenIds[p];
        this.positions[row] = p;
        this.slots[row] = s.blockTable[Math.floor(p / bs)] * bs + (p % bs);
      }
      lastRow.push(row - 1);
      if (i < numPrefill) this.cuSeqlens[i + 1] = row;
      this.tables.set(s.blockTable, i * W);
      this.contextLens[i] = start + s.numTokens;
    });
    const input: ForwardInput = {
      numTokens: row,
      numPrefillTokens: numPrefill > 0 ? this.cuSeqlens[numPrefill] : 0,
      numPrefillSeqs: numPrefill,
      numDecodeSeqs: ordered.length - numPrefill,
      tokenIds: this.tokenIds,
      positions: this.positions,
      slotMapping: this.slots,
      cuSeqlens: this.cuSeqlens,
      blockTables: this.tables,
      contextLens: this.contextLens,
    };
    this.model.forward(input);
    return lastRow;
  }

  // Prompt logprobs: row p of a chunk scores prompt token p + 1, for requests that asked for them.
  private scorePrompts(ordered: ScheduledSeq[], lastRow: number[], out: PromptTokenScore[]): void {
    const rows: number[] = [];
    const tokens: number[] = [];
    const topK: number[] = [];
    const where: Array<{ group: SequenceGroup; position: number }> = [];
    ordered.forEach((s, i) => {
      const k = s.group.params.promptLogprobs;
      if (k === undefined || s.seq !== s.group.seqs[0]) return;
      const start = s.seq.numComputedTokens;
      const first = lastRow[i] - s.numTokens + 1;
      for (let p = start; p < start + s.numTokens && p + 1 < s.seq.promptLen; p++) {
        rows.push(first + p - start);
        tokens.push(s.seq.tokenIds[p + 1]);
        topK.push(k);
        where.push({ group: s.group, position: p + 1 });
      }
    });
    for (let start = 0; start < rows.length; start += this.maxLogitRows) {
      const end = Math.min(rows.length, start + this.maxLogitRows);
      const logits = this.model.logits(Int32Array.from(rows.slice(start, end)));
      this.sampler.score(logits, Int32Array.from(tokens.slice(start, end)), topK.slice(start, end)).forEach((r, j) => {
        out.push({ ...where[start + j], result: r });
      });
    }
  }
}
