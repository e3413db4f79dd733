import type { PreemptionMode } from '../config';
import { EngineInvariantError, InvalidEngineOptionsError, RequestRejectedError } from '../errors';
import { Allocation, BlockManager, BlockManagerStats, BlockPair } from './block-manager';
import type { FinishState, Sequence, SequenceGroup } from './sequence';
import type { SampledToken, SchedulerOutput, StepResult } from './step';

export type { ScheduledSeq, SchedulerOutput } from './step';

export type { PreemptionMode };

export interface SchedulerConfig {
  blockSize: number;
  numBlocks: number;
  /** Host blocks for swapped-out sequences; needed by preemptionMode 'swap'. */
  numHostBlocks?: number;
  maxNumSeqs: number;
  /** Tokens one step computes at most, decodes and prefill chunks together. */
  maxNumBatchedTokens: number;
  maxModelLen: number;
  enablePrefixCaching?: boolean;
  /** recompute (default): drop the KV and prefill again later; swap: move the KV to host blocks. */
  preemptionMode?: PreemptionMode;
  /** A waiting or running request gains one priority level per this many steps, so none starves. */
  agingSteps?: number;
  /** Tokens that end a sequence unless its request sets ignoreEos. */
  eosTokenIds?: readonly number[];
}

/** The step being planned: each sequence's chunk, and the token budget and sequence slots still free. */
interface StepPlan {
  planned: Map<Sequence, number>;
  tokens: number;
  seqs: number;
}

/** What update() did to one sequence: the token it appended (or, client-driven, the candidates offered). */
export interface SeqUpdate {
  seq: Sequence;
  result: SampledToken['result'];
  /** Set when this token ended the sequence. */
  finished?: FinishState;
  /** The request must end with this error (the front end aborts it); the token was not appended. */
  error?: SampledToken['error'];
}

export interface SchedulerStats {
  waiting: number;
  running: number;
  swapped: number;
  totalBlocks: number;
  freeBlocks: number;
  kvCacheUsage: number;
  prefixCacheHitRate: number;
  /** Waste of the blocks held now. */
  kvWaste: number;
  /** Waste averaged over every step so far (empty slots / held slots, summed over steps). */
  meanKvWaste: number;
  numPreemptions: number;
  blocks: BlockManagerStats;
}

function positiveInt(option: string, v: number | undefined): number {
  if (v === undefined || !Number.isSafeInteger(v) || v < 1) throw new InvalidEngineOptionsError(option, `must be an integer >= 1, got ${v}`);
  return v;
}

/**
 * Iteration-level scheduling over a paged KV cache. Every step: running sequences first, in priority order
 * (decodes are never crowded out: prefill chunks leave budget for every running decode), preempting the
 * lowest-priority running request when blocks run out; then, if nothing was preempted, swapped requests
 * come back and waiting ones are admitted in priority order while the token budget, the sequence limit
 * and the free blocks allow. Long prompts are prefilled in chunks across steps.
 */
export class Scheduler {
  readonly blockManager: BlockManager;
  private readonly cfg: Required<SchedulerConfig>;
  private waiting: SequenceGroup[] = [];
  private running: SequenceGroup[] = [];
  private swapped: SequenceGroup[] = [];
  private readonly watermarkBlocks: number;
  private stepCount = 0;
  private arrivals = 0;
  private numPreemptions = 0;
  private wasteSlots = 0;
  private heldSlots = 0;

  constructor(config: SchedulerConfig) {
    const c: Required<SchedulerConfig> = {
      numHostBlocks: 0, enablePrefixCaching: true, preemptionMode: 'recompute', agingSteps: 256, eosTokenIds: [], ...config,
    };
    for (const k of ['blockSize', 'numBlocks', 'maxNumSeqs', 'maxNumBatchedTokens', 'maxModelLen', 'agingSteps'] as const) positiveInt(k, c[k]);
    if (!Number.isSafeInteger(c.numHostBlocks) || c.numHostBlocks < 0) {
      throw new InvalidEngineOptionsError('numHostBlocks', `must be an integer >= 0, got ${c.numHostBlocks}`);
    }
    if (c.maxNumBatchedTokens < c.maxNumSeqs) {
      throw new InvalidEngineOptionsError('maxNumBatchedTokens', `must be >= maxNumSeqs (${c.maxNumSeqs}) so every running decode fits in a step, got ${c.maxNumBatchedTokens}`);
    }
    if (c.preemptionMode !== 'recompute' && c.preemptionMode !== 'swap') {
      throw new InvalidEngineOptionsError('preemptionMode', `must be 'recompute' or 'swap', got ${JSON.stringify(c.preemptionMode)}`);
    }
    if (c.preemptionMode === 'swap' && c.numHostBlocks === 0) {
      throw new InvalidEngineOptionsError('numHostBlocks', 'must be > 0 with preemptionMode swap');
    }
    this.cfg = c;
    this.blockManager = new BlockManager({
      numBlocks: c.numBlocks, blockSize: c.blockSize, numHostBlocks: c.numHostBlocks, enablePrefixCaching: c.enablePrefixCaching,
    });
    // Admission keeps 1% of the blocks free, so the next decodes do not preempt at once.
    this.watermarkBlocks = Math.floor(c.numBlocks * 0.01);
  }

  /** Queues a request, or throws RequestRejectedError when it could never run; the scheduler is unchanged then. */
  addSeqGroup(group: SequenceGroup): void {
    this.checkFits(group.requestId, group.promptTokenIds.length, group.params.maxTokens, group.maxNumRunningSeqs);
    group.arrivalStep = this.stepCount;
    group.arrival = ++this.arrivals;
    this.waiting.push(group);
  }

  /** Throws RequestRejectedError unless numSeqs sequences of promptLen + maxTokens tokens could ever run. */
  checkFits(id: string, promptLen: number, maxTokens: number, numSeqs: number): void {
    const c = this.cfg;
    if (promptLen === 0) throw new RequestRejectedError(id, 'EMPTY_PROMPT', 'the prompt has no tokens');
    const total = promptLen + maxTokens;
    if (total > c.maxModelLen) {
      throw new RequestRejectedError(id, 'EXCEEDS_MAX_MODEL_LEN', `prompt (${promptLen} tokens) + maxTokens (${maxTokens}) = ${total} exceeds the max model length ${c.maxModelLen}`);
    }
    if (numSeqs > c.maxNumSeqs) {
      throw new RequestRejectedError(id, 'CANNOT_FIT_IN_CACHE', `bestOf ${numSeqs} sequences exceed maxNumSeqs ${c.maxNumSeqs}`);
    }
    // Worst case: after a recompute preemption every sequence holds all its tokens in blocks of its own.
    const blocks = numSeqs * this.blockManager.blocksFor(total);
    if (blocks > c.numBlocks) {
      throw new RequestRejectedError(id, 'CANNOT_FIT_IN_CACHE', `${numSeqs} sequence(s) of up to ${total} tokens need ${blocks} KV blocks of ${c.blockSize} tokens; the cache has ${c.numBlocks}`);
    }
  }

  hasUnfinished(): boolean {
    return this.waiting.length + this.running.length + this.swapped.length > 0;
  }

  schedule(): SchedulerOutput {
    this.stepCount++;
    const out: SchedulerOutput = { scheduled: [], numBatchedTokens: 0, blocksToSwapOut: [], blocksToSwapIn: [], blocksToCopy: [], preempted: [] };
    const plan: StepPlan = { planned: new Map(), tokens: this.cfg.maxNumBatchedTokens, seqs: this.cfg.maxNumSeqs };
    const byKey = (a: SequenceGroup, b: SequenceGroup) => this.rank(a) - this.rank(b) || a.arrival - b.arrival;
    this.running.sort(byKey);
    this.scheduleRunning(plan, out);
    if (out.preempted.length === 0) {
      this.swapIn(plan, out);
      this.admit(plan, byKey);
    }
    for (const group of this.running) {
      for (const seq of group.activeSeqs) {
        const numTokens = plan.planned.get(seq);
        if (numTokens === undefined) continue;
        const reachesEnd = seq.numComputedTokens + numTokens === seq.tokenIds.length;
        const sampleFor = !reachesEnd ? [] : seq === group.seqs[0] ? [seq, ...group.pendingForks] : [seq];
        out.scheduled.push({ seq, numTokens, blockTable: this.blockManager.blockTable(seq.seqId)!, sampleFor });
        out.numBatchedTokens += numTokens;
      }
    }
    const slots = this.blockManager.heldSlots;
    this.heldSlots += slots;
    this.wasteSlots += this.blockManager.waste * slots;
    return out;
  }

  // Running sequences first, in priority order; when blocks run out, the lowest-priority running requests are preempted.
  private scheduleRunning(plan: StepPlan, out: SchedulerOutput): void {
    // Budget kept back for decodes of running requests not yet visited, so no prefill chunk crowds them out.
    let decodesAhead = this.running.reduce((n, g) => n + g.activeSeqs.filter((s) => this.isDecode(s)).length, 0);
    for (let gi = 0; gi < this.running.length; gi++) {
      const group = this.running[gi];
      const seqs = group.activeSeqs;
      const groupCopies: BlockPair[] = [];
      for (const [si, seq] of seqs.entries()) {
        if (!this.schedulable(seq)) continue;
        if (seq.numUncomputed === 1) decodesAhead--;
        const room = plan.tokens - decodesAhead;
        if (room <= 0 || plan.seqs === 0) continue;
        const n = Math.min(seq.numUncomputed, room);
        let copies = this.blockManager.appendSlots(seq.seqId, seq.numComputedTokens + n);
        // Out of blocks: preempt from the back of the queue (lowest priority) until this fits or this group goes.
        while (copies === null && this.running[this.running.length - 1] !== group) {
          const victim = this.running.pop()!;
          decodesAhead -= victim.activeSeqs.filter((s) => this.isDecode(s)).length;
          this.preempt(victim, out);
          copies = this.blockManager.appendSlots(seq.seqId, seq.numComputedTokens + n);
        }
        if (copies === null) {
          decodesAhead -= seqs.slice(si + 1).filter((s) => this.isDecode(s)).length;
          this.running.splice(gi--, 1);
          this.unplan(plan, seqs);
          this.preempt(group, out, this.withdraw(out, groupCopies));
          break;
        }
        groupCopies.push(...copies);
        out.blocksToCopy.push(...copies);
        this.planChunk(plan, seq, n);
      }
    }
  }

  private planChunk(plan: StepPlan, seq: Sequence, n: number): void {
    plan.planned.set(seq, n);
    plan.tokens -= n;
    plan.seqs--;
  }

  // Gives back what the sequences of a group that is being preempted had planned this step.
  private unplan(plan: StepPlan, seqs: readonly Sequence[]): void {
    for (const s of seqs) {
      const m = plan.planned.get(s);
      if (m === undefined) continue;
      plan.tokens += m;
      plan.seqs++;
      plan.planned.delete(s);
    }
  }

  /**
   * A planned step has been launched: its positions count as computed (the device computes them before any
   * later step reads them), the siblings of a finished first prompt are forked, and each sequence the step
   * samples for holds a place for its token, so the next step can be scheduled before this one is read.
   */
  launched(plan: SchedulerOutput, sampledFor: readonly Sequence[]): void {
    for (const s of plan.scheduled) this.markComputed(s.seq, s.numTokens);
    for (const seq of sampledFor) if (!seq.group.clientDriven && !seq.isFinished) seq.reserveToken();
  }

  /**
   * The step's postprocess: appends each sampled token and ends the sequences it finishes (eos, stop token id,
   * maxTokens, model length), freeing their blocks. A client-driven sequence appends nothing: its candidates
   * are handed back, and so is a token whose request must fail (its error). Tokens of sequences that ended
   * meanwhile (abort, a stop string) are dropped.
   */
  update(result: StepResult): SeqUpdate[] {
    const updates: SeqUpdate[] = [];
    for (const { seq, result: r, error } of result.sampled) {
      if (seq.isFinished) continue;
      if (error || seq.group.clientDriven) {
        updates.push(error ? { seq, result: r, error } : { seq, result: r });
        continue;
      }
      seq.append(r);
      const finished = this.stopOf(seq);
      if (finished) this.finishSeq(seq, finished);
      updates.push({ seq, result: r, finished });
    }
    return updates;
  }

  /** Records that numTokens more positions of seq are cached; forks the siblings when seqs[0]'s prompt is done. */
  markComputed(seq: Sequence, numTokens: number): void {
    seq.numComputedTokens += numTokens;
    if (seq.numComputedTokens > seq.tokenIds.length) {
      throw new EngineInvariantError(`sequence ${seq.seqId} computed ${seq.numComputedTokens} of ${seq.tokenIds.length} tokens`);
    }
    this.blockManager.markComputed(seq.seqId, seq.tokenIds, seq.numComputedTokens);
    const group = seq.group;
    if (!group.forked && seq === group.seqs[0] && seq.numUncomputed === 0) {
      for (const sibling of group.pendingForks) {
        this.blockManager.fork(seq.seqId, sibling.seqId);
        sibling.numComputedTokens = seq.numComputedTokens;
        sibling.status = 'running';
      }
      group.forked = true;
    }
  }

  /** A running sequence's copy that shares all its blocks (copy-on-write): what beam search grows from. */
  fork(parent: Sequence): Sequence {
    if (parent.status !== 'running') throw new EngineInvariantError(`fork of sequence ${parent.seqId}, which is ${parent.status}`);
    const child = parent.group.fork(parent);
    this.blockManager.fork(parent.seqId, child.seqId);
    return child;
  }

  /** Ends one sequence and frees its blocks; a request leaves the scheduler with its last sequence. */
  finishSeq(seq: Sequence, finish: FinishState): void {
    if (seq.isFinished) return;
    const group = seq.group;
    seq.dropPending();
    this.release(seq);
    seq.releaseMatcher();
    seq.status = 'finished';
    seq.finish = finish;
    if (group.isFinished) {
      this.running = this.running.filter((g) => g !== group);
      this.waiting = this.waiting.filter((g) => g !== group);
      this.swapped = this.swapped.filter((g) => g !== group);
    }
  }

  /** Removes a request wherever it is, freeing its blocks; false when it is unknown. */
  abortSeqGroup(requestId: string): boolean {
    for (const queue of ['waiting', 'running', 'swapped'] as const) {
      const group = this[queue].find((g) => g.requestId === requestId);
      if (!group) continue;
      this[queue] = this[queue].filter((g) => g !== group);
      for (const seq of group.seqs) {
        if (seq.isFinished) continue;
        seq.dropPending();
        this.release(seq);
        seq.releaseMatcher();
        seq.status = 'finished';
        seq.finish = { reason: 'abort' };
      }
      return true;
    }
    return false;
  }

  stats(): SchedulerStats {
    const bm = this.blockManager.stats();
    return {
      waiting: this.waiting.length,
      running: this.running.length,
      swapped: this.swapped.length,
      totalBlocks: bm.numBlocks,
      freeBlocks: bm.freeBlocks,
      kvCacheUsage: bm.usage,
      prefixCacheHitRate: bm.prefixHitRate,
      kvWaste: bm.waste,
      meanKvWaste: this.heldSlots > 0 ? this.wasteSlots / this.heldSlots : 0,
      numPreemptions: this.numPreemptions,
      blocks: bm,
    };
  }

  // Lower runs first: the request's priority, raised one level per agingSteps steps since it arrived.
  private rank(g: SequenceGroup): number {
    return g.priority - Math.floor((this.stepCount - g.arrivalStep) / this.cfg.agingSteps);
  }

  // vLLM's order: nothing ends before minTokens but length; then eos, a stop token id, maxTokens, the model's length.
  // A finished grammar (it took its stop token) ends the sequence first: nothing may follow it.
  private stopOf(seq: Sequence): FinishState | undefined {
    if (seq.matcher?.isTerminated) return { reason: 'stop' };
    const p = seq.group.params;
    const len = seq.tokenIds.length - seq.numPending;
    const n = len - seq.promptLen;
    const last = seq.tokenIds[len - 1];
    if (n >= p.minTokens) {
      if (!p.ignoreEos && this.cfg.eosTokenIds.includes(last)) return { reason: 'stop' };
      if (p.stopTokenIds.includes(last)) return { reason: 'stop', stopReason: last };
    }
    if (n >= p.maxTokens || len >= this.cfg.maxModelLen) return { reason: 'length' };
    return undefined;
  }

  private isDecode(seq: Sequence): boolean {
    return seq.numUncomputed === 1 && this.schedulable(seq);
  }

  // Whether seq has work this step: not waiting for a client's token, nor certain to end by length first, nor
  // constrained while its grammar thread is busy compiling (its mask could not be filled).
  private schedulable(seq: Sequence): boolean {
    const g = seq.group.grammar;
    return seq.numUncomputed > 0 && seq.outputLen < seq.group.params.maxTokens && seq.tokenIds.length < this.cfg.maxModelLen && (!g || g.ready);
  }

  /**
   * Whether the next step can be scheduled before the one in flight is read: no running request needs this
   * step's tokens on the host before the next forward (beam search picks them; penalties count them; a
   * grammar's mask needs them only before sampling, which the model runner defers), and the free blocks cover one
   * more token for every running sequence, so scheduling cannot preempt a sequence whose step is in flight.
   */
  canScheduleAhead(): boolean {
    const bm = this.blockManager;
    let need = 0;
    for (const g of this.running) {
      const p = g.params;
      if (g.clientDriven || p.repetitionPenalty !== 1 || p.presencePenalty !== 0 || p.frequencyPenalty !== 0) return false;
      for (const s of g.activeSeqs) need += bm.appendCost(s.seqId, Math.min(s.tokenIds.length + 1, this.cfg.maxModelLen));
    }
    return this.running.length > 0 && need + this.watermarkBlocks <= bm.numFreeBlocks;
  }

  private release(seq: Sequence): void {
    const bm = this.blockManager;
    if (bm.blockTable(seq.seqId)) bm.free(seq.seqId);
    else if (bm.hostBlockTable(seq.seqId)) bm.freeHost(seq.seqId);
  }

  /**
   * Takes back the copy-on-write copies a group made earlier in this step before it preempts itself: they
   * would run after the swaps, into blocks the group no longer holds. Returns each copy's destination -> source.
   */
  private withdraw(out: SchedulerOutput, copies: readonly BlockPair[]): Map<number, number> {
    const pending = new Map(copies.map(([src, dst]) => [dst, src]));
    out.blocksToCopy = out.blocksToCopy.filter(([, dst]) => !pending.has(dst));
    return pending;
  }

  /** `pending`: copies not made yet (destination -> source); a swap-out of a destination reads its source. */
  private preempt(group: SequenceGroup, out: SchedulerOutput, pending = new Map<number, number>()): void {
    this.numPreemptions++;
    out.preempted.push(group);
    const seqs = group.activeSeqs;
    const ids = seqs.map((s) => s.seqId);
    if (this.cfg.preemptionMode === 'swap' && this.blockManager.canSwapOut(ids)) {
      const pairs = this.blockManager.swapOut(ids);
      out.blocksToSwapOut.push(...pairs.map(([dev, host]): BlockPair => [pending.get(dev) ?? dev, host]));
      for (const s of seqs) s.status = 'swapped';
      this.swapped.push(group);
      return;
    }
    // Recompute: the tokens stay, their KV goes; the next admission prefills prompt and output again.
    for (const s of seqs) {
      this.blockManager.free(s.seqId);
      s.numComputedTokens = 0;
      s.status = 'waiting';
    }
    this.waiting.push(group);
  }

  private swapIn(plan: StepPlan, out: SchedulerOutput): void {
    const bm = this.blockManager;
    this.swapped.sort((a, b) => this.rank(a) - this.rank(b) || a.arrival - b.arrival);
    while (this.swapped.length > 0) {
      const group = this.swapped[0];
      const seqs = group.activeSeqs;
      const ids = seqs.map((s) => s.seqId);
      // Each sequence may need one more block for its next position.
      if (bm.swapInCost(ids) + seqs.length + this.watermarkBlocks > bm.numFreeBlocks) break;
      if (seqs.length > plan.seqs || seqs.length > plan.tokens || this.runningSeqs() + seqs.length > this.cfg.maxNumSeqs) break;
      out.blocksToSwapIn.push(...bm.swapIn(ids));
      this.swapped.shift();
      this.running.push(group);
      for (const seq of seqs) {
        seq.status = 'running';
        if (!this.schedulable(seq)) continue;
        const n = Math.min(seq.numUncomputed, plan.tokens - (seqs.length - 1 - seqs.indexOf(seq)));
        const copies = bm.appendSlots(seq.seqId, seq.numComputedTokens + n);
        // No room for this chunk yet: the sequence runs from the next step on, when it may preempt.
        if (copies === null) continue;
        out.blocksToCopy.push(...copies);
        this.planChunk(plan, seq, n);
      }
    }
  }

  private admit(plan: StepPlan, byKey: (a: SequenceGroup, b: SequenceGroup) => number): void {
    const bm = this.blockManager;
    this.waiting.sort(byKey);
    // Constrained requests wait in place while their grammar thread is busy; the others are admitted past them.
    const eligible = (g: SequenceGroup) => !g.grammar || g.grammar.ready;
    for (let at = this.waiting.findIndex(eligible); at >= 0; at = this.waiting.findIndex(eligible)) {
      const group = this.waiting[at];
      const seqs = group.activeSeqs;
      if (seqs.length > plan.seqs || this.runningSeqs() + group.maxNumRunningSeqs > this.cfg.maxNumSeqs) break;
      const allocs: Allocation[] = [];
      const chunks: number[] = [];
      let left = plan.tokens;
      for (const seq of seqs) {
        // Prompt logprobs need every prompt position's logits, so such requests skip the prefix cache.
        const prefix = group.params.promptLogprobs !== undefined ? { blocks: [], entries: [] } : bm.lookupPrefix(seq.tokenIds);
        const cached = prefix.blocks.length * this.cfg.blockSize;
        const n = Math.min(seq.tokenIds.length - cached, left - (seqs.length - 1 - allocs.length));
        if (n <= 0) break;
        allocs.push({ seqId: seq.seqId, prefix, numTokens: cached + n, queriedTokens: seq.tokenIds.length });
        chunks.push(n);
        left -= n;
      }
      if (allocs.length < seqs.length) break;
      // With nothing running, the whole cache is free: the watermark must not block the only request.
      const watermark = this.running.length > 0 ? this.watermarkBlocks : 0;
      if (bm.allocationCost(allocs) + watermark > bm.numFreeBlocks || !bm.allocate(allocs)) break;
      this.waiting.splice(at, 1);
      this.running.push(group);
      seqs.forEach((seq, i) => {
        seq.numComputedTokens = allocs[i].numTokens - chunks[i];
        seq.status = 'running';
        plan.planned.set(seq, chunks[i]);
        if (seq === group.seqs[0] && seq.outputLen === 0) group.numCachedPromptTokens = seq.numComputedTokens;
      });
      plan.tokens = left;
      plan.seqs -= seqs.length;
    }
  }

  private runningSeqs(): number {
    return this.running.reduce((n, g) => n + g.maxNumRunningSeqs, 0);
  }
}
