// Keeps a worker serving when its engine breaks on a job: the engine is started again and the jobs it held are
// run again in halves, alone at the end, until the one that breaks it is found and dead-lettered (ENGINE_CRASHED).
import type { Logger } from 'pino';
import { EngineError, InvalidJobError } from '../errors';
import type { EngineJob, EngineLoad, EngineResult, InferenceEngine } from './inference-engine';

interface Entry {
  job: EngineJob;
  resolve(r: EngineResult): void;
  reject(e: Error): void;
  /** Times this job was the only one on an engine that broke, and the jobs finished by then. */
  crashedAlone: number;
  finishedAtCrash: number;
}

export interface SelfHealingOptions {
  /** Starts a fresh engine (loads the model). */
  start(): Promise<InferenceEngine>;
  /** Engine failures in a row with no job finished in between before giving up: the worker then stops, as before. */
  maxConsecutiveFailures: number;
  log: Logger;
}

/** Enough failures in a row to bisect maxInFlight suspects down to one twice over, with room to spare. */
export const consecutiveFailureLimit = (maxInFlight: number): number => 2 * Math.ceil(Math.log2(maxInFlight + 1)) + 4;

const isEngineFailure = (err: unknown): boolean => err instanceof EngineError && err.code === 'ENGINE_FAILED';

/**
 * An InferenceEngine over a sequence of engines. While the engine works it only passes jobs through. When it
 * breaks (ENGINE_FAILED), the jobs it held become suspects: a new engine runs them as one group, alone; a group
 * that breaks it again is split in halves, and a job that breaks it alone twice, with some job (at least a probe
 * of our own) finished on an engine in between, is rejected as ENGINE_CRASHED, which the worker dead-letters. New jobs wait meanwhile.
 * After maxConsecutiveFailures failures with no job finished, every job fails with ENGINE_FAILED, as without it.
 */
export class SelfHealingEngine implements InferenceEngine {
  readonly model: string;
  private readonly running = new Map<string, { entry: Entry; engine: InferenceEngine }>();
  private readonly held: Entry[] = [];
  /** Groups of suspects still to run, each alone on the engine. */
  private readonly suspects: Entry[][] = [];
  /** The group running alone now, and its members the engine failed on. */
  private group: { members: Set<string>; failed: Entry[] } | undefined;
  /** Jobs of a working engine that broke, before they become a group. */
  private casualties: Entry[] = [];
  private readonly abortedByCaller = new Set<string>();
  private restarting = false;
  private failures = 0;
  /** Jobs finished (probes included): a job that broke the engine alone is poison only if some job ran fine since. */
  private finished = 0;
  private probes = 0;
  private broken: Error | undefined;
  private closed = false;
  /** Engines started after failures (a metric and a test's window on the healing). */
  restarts = 0;

  private constructor(private engine: InferenceEngine, private readonly o: SelfHealingOptions) {
    this.model = engine.model;
  }

  static async start(o: SelfHealingOptions): Promise<SelfHealingEngine> {
    return new SelfHealingEngine(await o.start(), o);
  }

  submit(job: EngineJob): Promise<EngineResult> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      const entry: Entry = { job, resolve, reject, crashedAlone: 0, finishedAtCrash: 0 };
      if (this.restarting || this.group || this.suspects.length > 0) this.held.push(entry);
      else this.dispatch(entry);
    });
  }

  abort(id: string): void {
    const waiting = [this.held, ...this.suspects, this.casualties, this.group?.failed ?? []].find((list) => list.some((e) => e.job.id === id));
    if (waiting) {
      const entry = waiting.splice(waiting.findIndex((e) => e.job.id === id), 1)[0];
      entry.reject(new EngineError('ABORTED', `job ${id} was aborted`));
      return;
    }
    const r = this.running.get(id);
    if (!r) return;
    this.abortedByCaller.add(id);
    r.engine.abort(id);
  }

  load(): EngineLoad {
    const load = this.engine.load();
    // Jobs held back are the engine's queue as backpressure sees it.
    return { ...load, queued: load.queued + this.held.length + this.suspects.reduce((n, g) => n + g.length, 0) + this.casualties.length };
  }

  async shutdown(): Promise<void> {
    this.closed = true;
    const waiting = [...this.held.splice(0), ...this.suspects.splice(0).flat(), ...this.casualties.splice(0), ...(this.group?.failed.splice(0) ?? [])];
    for (const e of waiting) e.reject(new EngineError('SHUT_DOWN', `the engine shut down before job ${e.job.id} ran`));
    await this.engine.shutdown();
  }

  private dispatch(entry: Entry): void {
    const engine = this.engine;
    const id = entry.job.id;
    this.running.set(id, { entry, engine });
    engine.submit(entry.job).then(
      (result) => {
        this.settled(id);
        this.failures = 0;
        this.finished++;
        entry.resolve(result);
        this.afterGroupMember(id);
      },
      (err: unknown) => {
        this.settled(id);
        const byCaller = this.abortedByCaller.delete(id);
        // A job of an engine that broke, or that we retired after it broke, runs again (unless its caller aborted it).
        if (!byCaller && (isEngineFailure(err) || (engine !== this.engine && err instanceof EngineError && err.retriable))) this.onCasualty(entry, err as Error);
        else entry.reject(err as Error);
        this.afterGroupMember(id);
      },
    );
  }

  private settled(id: string): void {
    this.running.delete(id);
  }

  private onCasualty(entry: Entry, err: Error): void {
    if (this.group?.members.has(entry.job.id)) this.group.failed.push(entry);
    else this.casualties.push(entry);
    if (!this.restarting) void this.restart(err);
  }

  private afterGroupMember(id: string): void {
    if (!this.group?.members.delete(id) || this.group.members.size > 0 || this.restarting) return;
    this.group = undefined;
    this.next();
  }

  // A fresh engine once everything of the broken one has settled, then the suspects, group by group.
  private async restart(cause: Error): Promise<void> {
    this.restarting = true;
    this.failures++;
    const old = this.engine;
    this.o.log.error({ err: cause, failures: this.failures, suspects: this.running.size + this.casualties.length }, 'engine failed: starting a new one and running its jobs again');
    if (this.failures > this.o.maxConsecutiveFailures) return this.giveUp(cause);
    await old.shutdown().catch(() => undefined);
    // Every job of the old engine has settled (rejected) before the new one takes any.
    await new Promise((r) => setImmediate(r));
    if (this.closed) return;
    try {
      this.engine = await this.o.start();
    } catch (err) {
      return this.giveUp(err as Error);
    }
    if (this.closed) return void (await this.engine.shutdown());
    this.restarts++;
    this.restarting = false;
    this.regroup();
    this.next();
  }

  // The failed jobs become groups to run alone: all of a working engine's at once; an isolated group's in halves.
  private regroup(): void {
    if (this.casualties.length > 0) this.suspects.unshift(this.casualties.splice(0));
    const failed = this.group?.failed ?? [];
    this.group = undefined;
    if (failed.length === 1) {
      const [job] = failed;
      // Broke the engine alone twice, and the engine ran something else fine in between: the job, not the engine.
      if (job.crashedAlone > 0 && this.finished > job.finishedAtCrash) return this.poison(job);
      job.crashedAlone++;
      job.finishedAtCrash = this.finished;
      // Alone again after the other suspects and a probe, which show whether the new engine works at all.
      this.suspects.push([this.probe()], [job]);
    } else if (failed.length > 1) {
      const half = Math.ceil(failed.length / 2);
      this.suspects.unshift(failed.slice(0, half), failed.slice(half));
    }
  }

  // A one-token job of our own: it finishing proves the engine runs (its outcome goes nowhere).
  private probe(): Entry {
    const job: EngineJob = { id: `\u0000sluice-probe-${++this.probes}`, prompt: 'ok', sampling: { max_tokens: 1 } };
    return { job, resolve: () => undefined, reject: () => undefined, crashedAlone: 0, finishedAtCrash: 0 };
  }

  private poison(entry: Entry): void {
    this.o.log.error({ job: entry.job.id }, 'job dead-lettered: the engine broke each time it ran alone (ENGINE_CRASHED)');
    entry.reject(new InvalidJobError('ENGINE_CRASHED', `the engine failed each time it ran job ${entry.job.id} alone (twice), so it is set aside`));
  }

  private next(): void {
    if (this.restarting || this.group || this.closed) return;
    const group = this.suspects.shift();
    if (group) {
      this.group = { members: new Set(group.map((e) => e.job.id)), failed: [] };
      for (const e of group) this.dispatch(e);
      return;
    }
    for (const e of this.held.splice(0)) this.dispatch(e);
  }

  private giveUp(cause: Error): void {
    const err = new EngineError('ENGINE_FAILED', `the engine failed ${this.failures} times with no job finished in between: ${cause.message}`, { cause });
    this.broken = err;
    const waiting = [...this.held.splice(0), ...this.suspects.splice(0).flat(), ...this.casualties.splice(0), ...(this.group?.failed.splice(0) ?? [])];
    this.group = undefined;
    for (const e of waiting) e.reject(err);
  }
}
