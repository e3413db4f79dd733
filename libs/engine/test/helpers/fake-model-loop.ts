// Drives a Scheduler the way LLMEngine does, with a fake model: the "KV cache" stores token ids, every
// computed position is checked to read back through the block table, and the next token is a hash of the
// whole sequence and its seed — so any scheduling mistake that would corrupt a real model's context shows.
import type { BlockPair } from '../../src/core/block-manager';
import { SamplingParams, SamplingParamsInit } from '../../src/sampling-params';
import { Scheduler, SchedulerConfig, SchedulerOutput } from '../../src/core/scheduler';
import { SequenceGroup } from '../../src/core/sequence';

export const VOCAB = 50;

// A deterministic "model + sampler": what a greedy or seeded request would produce next.
export function nextToken(tokens: readonly number[], seed: number): number {
  let h = 0x9e3779b9 ^ seed;
  for (const t of tokens) h = Math.imul(h ^ t, 0x85ebca6b) ^ (h >>> 13);
  return (h >>> 0) % VOCAB;
}

export interface FakeRequest {
  id: string;
  prompt: number[];
  params?: SamplingParamsInit;
  priority?: number;
}

export class FakeModelLoop {
  readonly scheduler: Scheduler;
  readonly outputs = new Map<string, number[][]>();
  readonly finishedAtStep = new Map<string, number>();
  readonly steps: SchedulerOutput[] = [];
  /** Per step, whether each scheduled chunk was a decode (one new token after the prompt) or a prefill. */
  readonly phases: Array<Array<'decode' | 'prefill'>> = [];
  private readonly device: Int32Array;
  private readonly host: Int32Array;
  private readonly groups = new Map<string, SequenceGroup>();

  constructor(readonly config: SchedulerConfig) {
    this.scheduler = new Scheduler(config);
    this.device = new Int32Array(config.numBlocks * config.blockSize).fill(-1);
    this.host = new Int32Array(Math.max(1, config.numHostBlocks ?? 0) * config.blockSize).fill(-1);
  }

  add(r: FakeRequest): SequenceGroup {
    const group = new SequenceGroup(r.id, r.prompt, new SamplingParams(r.params ?? {}), r.priority ?? 0);
    this.scheduler.addSeqGroup(group);
    this.groups.set(r.id, group);
    return group;
  }

  private copy(from: Int32Array, to: Int32Array, pairs: readonly BlockPair[]): void {
    const bs = this.config.blockSize;
    for (const [s, d] of pairs) to.set(from.subarray(s * bs, (s + 1) * bs), d * bs);
  }

  private slot(table: readonly number[], p: number): number {
    const bs = this.config.blockSize;
    return table[Math.floor(p / bs)] * bs + (p % bs);
  }

  /** One engine step; returns its schedule. Throws if any sequence would read a wrong context. */
  step(stepNo: number): SchedulerOutput {
    const out = this.scheduler.schedule();
    this.steps.push(out);
    this.phases.push(out.scheduled.map(({ seq, numTokens }) => (numTokens === 1 && seq.numComputedTokens >= seq.promptLen ? 'decode' : 'prefill')));
    this.copy(this.device, this.host, out.blocksToSwapOut);
    this.copy(this.host, this.device, out.blocksToSwapIn);
    this.copy(this.device, this.device, out.blocksToCopy);
    // The forward pass: every sequence writes its new positions, then attends over all its positions.
    for (const { seq, numTokens, blockTable } of out.scheduled) {
      for (let p = seq.numComputedTokens; p < seq.numComputedTokens + numTokens; p++) this.device[this.slot(blockTable, p)] = seq.tokenIds[p];
    }
    for (const { seq, numTokens, blockTable } of out.scheduled) {
      for (let p = 0; p < seq.numComputedTokens + numTokens; p++) {
        if (this.device[this.slot(blockTable, p)] !== seq.tokenIds[p]) {
          throw new Error(`step ${stepNo}: sequence ${seq.seqId} reads ${this.device[this.slot(blockTable, p)]} at position ${p}, expected ${seq.tokenIds[p]}`);
        }
      }
    }
    // The sampler: one token per sampling sequence, from the context before this step's update.
    const sampled = out.scheduled.flatMap(({ seq, sampleFor }) =>
      sampleFor.map((s) => ({ seq: s, result: { token: nextToken(seq.tokenIds, (s.group.params.seed ?? 0) * 31 + s.index), logprob: 0 } })),
    );
    this.scheduler.launched(out, sampled.map((s) => s.seq));
    this.scheduler.update({ sampled, promptScores: [] });
    for (const { seq } of out.scheduled) {
      const group = seq.group;
      if (group.isFinished && !this.outputs.has(group.requestId)) {
        this.outputs.set(group.requestId, group.seqs.map((s) => s.outputTokens()));
        this.finishedAtStep.set(group.requestId, stepNo);
      }
    }
    return out;
  }

  /** Steps until every request has finished. */
  run(maxSteps = 10_000): number {
    let n = 0;
    while (this.scheduler.hasUnfinished()) {
      if (++n > maxSteps) throw new Error(`not finished after ${maxSteps} steps`);
      this.step(n);
    }
    return n;
  }

  group(id: string): SequenceGroup {
    return this.groups.get(id)!;
  }
}

/** The outputs a request gets when it runs alone in a roomy cache. */
export function runAlone(config: SchedulerConfig, r: FakeRequest): number[][] {
  const loop = new FakeModelLoop({ ...config, numBlocks: 4096, enablePrefixCaching: false, preemptionMode: 'recompute', numHostBlocks: 0 });
  loop.add(r);
  loop.run();
  return loop.outputs.get(r.id)!;
}
