import type { Backend } from '@sluice/cuda-kernels';
import type { LlamaWeights } from '../models/llama-weights';
import { freeLlamaWeights } from '../models/llama-weights';
import type { KvCache } from '../models/kv-cache';
import type { TokenLogprob } from '../outputs';
import type { LaunchedStep, ModelRunner } from './model-runner';
import type { Scheduler, SchedulerStats, SeqUpdate } from './scheduler';
import type { FinishState, Sequence, SequenceGroup } from './sequence';
import type { PromptTokenScore, SchedulerOutput } from './step';

/** What one core step produced: per sequence the token appended (or the candidates offered), and prompt scores. */
export interface CoreStepOutput {
  plan: SchedulerOutput;
  updates: SeqUpdate[];
  promptScores: PromptTokenScore[];
}

/**
 * The engine core, as vLLM v1 draws it: token ids in, sampled tokens and logprobs out. It owns the scheduler,
 * the KV cache and the model runner; text, stop strings, best-of and beam policy live in the front end.
 * A step is schedule → launch → collect → update; on CUDA the kernels of a launched step run on the device
 * while the host goes on, and only collect() waits for them.
 */
interface InFlightStep {
  plan: SchedulerOutput;
  launched: LaunchedStep;
}

export class EngineCore {
  private closed = false;
  private inFlight: InFlightStep | undefined;
  /** Steps launched before the previous one was read. */
  stepsScheduledAhead = 0;

  constructor(
    readonly scheduler: Scheduler,
    private readonly runner: ModelRunner,
    private readonly kv: KvCache,
    readonly weights: LlamaWeights,
    readonly backend: Backend,
    /** Schedule step k + 1 while step k runs on the device (vLLM's async scheduling); on by default on CUDA. */
    private readonly scheduleAhead = false,
  ) {}

  /** Queues a request; throws RequestRejectedError (and holds nothing) when it could never run. */
  add(group: SequenceGroup): void {
    this.scheduler.addSeqGroup(group);
  }

  /**
   * One step's tokens. With scheduleAhead, the step after it is scheduled and launched before this one is
   * read (when no running request needs this step's tokens on the host first), so on a GPU the host's
   * bookkeeping overlaps the kernels; without it every step is read before the next is planned.
   */
  step(): CoreStepOutput {
    if (!this.scheduleAhead) return this.finish(this.launchNext());
    const current = this.inFlight ?? this.launchNext();
    // Constrained rows of the step launched ahead sample only once this step is read: their masks follow from its tokens.
    this.inFlight = this.scheduler.canScheduleAhead() ? this.launchNext(true) : undefined;
    if (this.inFlight) this.stepsScheduledAhead++;
    const out = this.finish(current);
    if (this.inFlight) this.runner.finishSampling(this.inFlight.launched);
    return out;
  }

  private launchNext(ahead = false): InFlightStep {
    const plan = this.scheduler.schedule();
    const launched = this.runner.launch(plan, ahead);
    this.scheduler.launched(plan, launched.targets);
    return { plan, launched };
  }

  // The step's one blocking read, then its tokens applied: appends, stop checks, freed blocks.
  private finish({ plan, launched }: InFlightStep): CoreStepOutput {
    const result = this.runner.collect(launched);
    return { plan, updates: this.scheduler.update(result), promptScores: result.promptScores };
  }

  /** A client's token for a client-driven sequence (beam search). */
  appendToken(seq: Sequence, token: TokenLogprob): void {
    seq.append(token);
  }

  fork(parent: Sequence): Sequence {
    return this.scheduler.fork(parent);
  }

  /** Ends a sequence before the core would (a stop string, a beam without survivors); frees its blocks. */
  finishSeq(seq: Sequence, finish: FinishState): void {
    this.scheduler.finishSeq(seq, finish);
  }

  abort(requestId: string): boolean {
    return this.scheduler.abortSeqGroup(requestId);
  }

  hasUnfinished(): boolean {
    return this.scheduler.hasUnfinished() || this.inFlight !== undefined;
  }

  stats(): SchedulerStats {
    return this.scheduler.stats();
  }

  /** Host time spent building structured-output bitmasks so far, ms. */
  get grammarMaskMs(): number {
    return this.runner.sampler.maskMs;
  }

  /** Frees the step buffers, the cache and the weights; the core cannot be used afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.runner.free();
    this.kv.free();
    freeLlamaWeights(this.weights);
  }
}
