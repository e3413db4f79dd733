import type { Backend, Tensor } from '@sluice/cuda-kernels';
import type { StepInputs } from '../models/llama';
import type { Sequence } from './sequence';
import type { ScheduledSeq } from './step';

export interface InputBatchLimits {
  blockSize: number;
  maxNumSeqs: number;
  maxNumBatchedTokens: number;
  /** Block-table entries a sequence of maxModelLen tokens needs. */
  blockTableWidth: number;
}

// Grows a device i32 buffer (and its host twin) to at least n entries.
interface Staged {
  host: Int32Array;
  dev: Tensor;
}

/**
 * The persistent batch: every scheduled sequence keeps one row of a device-resident block-table store for as
 * long as it runs, and only the entries that changed since the last step are sent (a new row sends its table
 * once). Token ids of decodes whose token the core sampled last step are copied on the device from the
 * sampler's output, not sent again from the host. Host work and host-to-device bytes per step are therefore
 * proportional to the batch and the blocks that changed, never to context length or maxModelLen.
 */
export class InputBatch {
  private readonly owner: Array<Sequence | undefined>;
  private readonly freeRows: number[];
  /** Entries of each row's table already on the device. */
  private readonly synced: Int32Array;
  private readonly lastSynced: Int32Array;
  private readonly tokens: Staged;
  private readonly positions: Staged;
  private readonly slots: Staged;
  private readonly cu: Staged;
  private readonly ctx: Staged;
  private readonly rows: Staged;
  private updIdx: Staged;
  private updVal: Staged;
  private readonly feedIdx: Staged;
  private readonly store: Tensor;
  private readonly stepTables: Tensor;
  private readonly buffers: Tensor[] = [];
  /** The previous step's sampled sequences by their row in the sampler's output. */
  private prevSampled = new Map<Sequence, number>();
  private prevTokens: Tensor | undefined;
  private numUpdates = 0;

  constructor(private readonly backend: Backend, private readonly limits: InputBatchLimits) {
    const { maxNumSeqs: S, maxNumBatchedTokens: T, blockTableWidth: W } = limits;
    this.owner = new Array<Sequence | undefined>(S).fill(undefined);
    this.freeRows = Array.from({ length: S }, (_, i) => S - 1 - i);
    this.synced = new Int32Array(S);
    this.lastSynced = new Int32Array(S);
    this.tokens = this.staged(T);
    this.positions = this.staged(T);
    this.slots = this.staged(T);
    this.cu = this.staged(S + 1);
    this.ctx = this.staged(S);
    this.rows = this.staged(S);
    this.feedIdx = this.staged(S);
    // A step changes at most one tail entry per sequence plus the blocks its new tokens fill; grown if a step needs more.
    this.updIdx = this.staged(2 * S + Math.ceil(T / limits.blockSize));
    this.updVal = this.staged(this.updIdx.host.length);
    this.store = this.alloc([S, W]);
    this.stepTables = this.alloc([S * W]);
  }

  /** Lays out the step's sequences (prefills first) and stages every model input on the device. */
  prepare(ordered: readonly ScheduledSeq[], numPrefill: number): { inputs: StepInputs; lastRow: number[] } {
    this.releaseRows();
    const bs = this.limits.blockSize;
    const S = ordered.length;
    const lastRow: number[] = [];
    let t = 0;
    let maxCtx = 0;
    let maxDecodeContext = 0;
    this.numUpdates = 0;
    this.cu.host[0] = 0;
    for (let i = 0; i < S; i++) {
      const s = ordered[i];
      const start = s.seq.numComputedTokens;
      for (let p = start; p < start + s.numTokens; p++, t++) {
        this.tokens.host[t] = s.seq.tokenIds[p];
        this.positions.host[t] = p;
        this.slots.host[t] = s.blockTable[Math.floor(p / bs)] * bs + (p % bs);
      }
      lastRow.push(t - 1);
      if (i < numPrefill) this.cu.host[i + 1] = t;
      const ctx = start + s.numTokens;
      this.ctx.host[i] = ctx;
      maxCtx = Math.max(maxCtx, ctx);
      if (i >= numPrefill) maxDecodeContext = Math.max(maxDecodeContext, ctx);
      this.rows.host[i] = this.syncRow(s.seq, s.blockTable);
    }
    const width = Math.max(1, Math.ceil(maxCtx / bs));
    const inputs: StepInputs = {
      numTokens: t,
      numPrefillTokens: numPrefill > 0 ? this.cu.host[numPrefill] : 0,
      numPrefillSeqs: numPrefill,
      numDecodeSeqs: S - numPrefill,
      tokenIds: this.upload(this.tokens, t),
      positions: this.upload(this.positions, t),
      slotMapping: this.upload(this.slots, t),
      cuSeqlens: this.upload(this.cu, numPrefill + 1),
      contextLens: this.upload(this.ctx, S),
      blockTables: this.gatherTables(S, width),
      maxDecodeContext,
    };
    this.feedSampledTokens(ordered, numPrefill, lastRow, inputs.tokenIds);
    return { inputs, lastRow };
  }

  /** Remembers which sequence each sampled row was for, so the next step reads those tokens on the device. */
  recordSampled(seqs: readonly Sequence[], tokens: Tensor | undefined): void {
    this.prevSampled = new Map(seqs.map((s, i) => [s, i]));
    this.prevTokens = tokens;
  }

  free(): void {
    for (const t of this.buffers) if (!t.freed) t.free();
  }

  // Rows of sequences that stopped running (finished, preempted, swapped) go back to the free list.
  private releaseRows(): void {
    for (let r = 0; r < this.owner.length; r++) {
      const s = this.owner[r];
      if (s === undefined || s.status === 'running') continue;
      this.owner[r] = undefined;
      s.row = -1;
      this.freeRows.push(r);
    }
  }

  // Gives the sequence a row if it has none and queues the table entries the device does not have yet.
  private syncRow(seq: Sequence, table: readonly number[]): number {
    if (seq.row < 0 || this.owner[seq.row] !== seq) {
      const r = this.freeRows.pop();
      if (r === undefined) throw new RangeError(`input batch: more than ${this.owner.length} sequences scheduled`);
      this.owner[r] = seq;
      seq.row = r;
      this.synced[r] = 0;
    }
    const r = seq.row;
    const W = this.limits.blockTableWidth;
    // Only the tail can change while a sequence runs: new blocks, or its last block replaced by copy-on-write.
    let from = this.synced[r];
    if (from > 0 && table[from - 1] !== this.lastSynced[r]) from--;
    for (let i = from; i < table.length; i++) this.queueUpdate(r * W + i, table[i]);
    this.synced[r] = table.length;
    this.lastSynced[r] = table.length > 0 ? table[table.length - 1] : -1;
    return r;
  }

  private queueUpdate(index: number, value: number): void {
    if (this.numUpdates === this.updIdx.host.length) {
      this.updIdx = this.grow(this.updIdx);
      this.updVal = this.grow(this.updVal);
    }
    this.updIdx.host[this.numUpdates] = index;
    this.updVal.host[this.numUpdates++] = value;
  }

  // Applies the queued entries to the store, then gathers this step's rows at the width its longest context needs.
  private gatherTables(numSeqs: number, width: number): Tensor {
    const b = this.backend;
    if (this.numUpdates > 0) {
      b.scatter(b.view(this.store, [this.store.numel]), this.upload(this.updIdx, this.numUpdates), this.upload(this.updVal, this.numUpdates));
    }
    const out = b.view(b.narrow(this.stepTables, 0, numSeqs * width), [numSeqs, width]);
    b.embedding(out, this.store, this.upload(this.rows, numSeqs));
    return out;
  }

  // Decode rows whose token the core sampled last step take it from the sampler's output on the device.
  private feedSampledTokens(ordered: readonly ScheduledSeq[], numPrefill: number, lastRow: number[], tokenIds: Tensor): void {
    if (!this.prevTokens || this.prevSampled.size === 0) return;
    const idx = this.feedIdx.host;
    const n = this.prevSampled.size;
    idx.fill(-1, 0, n);
    let fed = 0;
    for (let i = numPrefill; i < ordered.length; i++) {
      const seq = ordered[i].seq;
      const j = this.prevSampled.get(seq);
      if (j === undefined || seq.group.clientDriven) continue;
      idx[j] = lastRow[i];
      fed++;
    }
    if (fed > 0) this.backend.scatter(tokenIds, this.upload(this.feedIdx, n), this.prevTokens);
  }

  private upload(s: Staged, n: number): Tensor {
    const view = this.backend.narrow(s.dev, 0, n);
    if (n > 0) this.backend.copyFromHost(view, s.host.subarray(0, n));
    return view;
  }

  private staged(n: number): Staged {
    return { host: new Int32Array(n), dev: this.alloc([Math.max(1, n)]) };
  }

  private grow(s: Staged): Staged {
    const bigger = this.staged(2 * s.host.length);
    bigger.host.set(s.host);
    s.dev.free();
    return bigger;
  }

  private alloc(shape: number[]): Tensor {
    const t = this.backend.empty(shape, 'i32');
    this.buffers.push(t);
    return t;
  }
}
