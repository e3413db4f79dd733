import pino from 'pino';
import { EngineError, InvalidJobError } from '../errors';
import type { EngineJob, EngineLoad, EngineResult, InferenceEngine } from './inference-engine';
import { consecutiveFailureLimit, SelfHealingEngine } from './self-healing-engine';

const log = pino({ level: 'silent' });
// Past the moment the poison breaks the fake (2 ms after it arrives), inside the new engine's 20 ms start.
const broken = () => new Promise((r) => setTimeout(r, 6));

/**
 * A small fake: each job finishes a few ms after it arrives, unless the engine breaks first. A job whose prompt is
 * in `poison` breaks it a moment after it arrives (every job in it fails, and every later one), or `always` does.
 */
class FakeEngine implements InferenceEngine {
  readonly model = 'fake';
  private readonly pending = new Map<string, { resolve(r: EngineResult): void; reject(e: Error): void }>();
  private broken = false;
  ran: string[] = [];

  constructor(private readonly poison: Set<string>, private readonly always = false) {}

  submit(job: EngineJob): Promise<EngineResult> {
    if (this.broken) return Promise.reject(new EngineError('ENGINE_FAILED', 'broken'));
    this.ran.push(job.id);
    return new Promise((resolve, reject) => {
      this.pending.set(job.id, { resolve, reject });
      const breaks = this.always || this.poison.has(job.prompt ?? '');
      setTimeout(() => (breaks ? this.break() : this.finish(job)), breaks ? 2 : 5);
    });
  }

  private finish(job: EngineJob): void {
    const p = this.pending.get(job.id);
    this.pending.delete(job.id);
    p?.resolve({ outputs: [{ index: 0, text: job.prompt ?? '', finish_reason: 'stop', cumulative_logprob: 0 }], usage: { prompt_tokens: 1, completion_tokens: 1, cached_tokens: 0 }, timings: { queued_ms: 0, first_token_ms: 0, total_ms: 0 } });
  }

  private break(): void {
    if (this.broken) return;
    this.broken = true;
    for (const p of this.pending.values()) p.reject(new EngineError('ENGINE_FAILED', 'the engine thread died'));
    this.pending.clear();
  }

  abort(id: string): void {
    this.pending.get(id)?.reject(new EngineError('ABORTED', `job ${id} was aborted`));
    this.pending.delete(id);
  }

  load(): EngineLoad {
    return { running: this.pending.size, waiting: 0, queued: 0, freeKvBlocks: 0, totalKvBlocks: 0, kvUsage: 0 };
  }

  async shutdown(): Promise<void> {
    for (const id of [...this.pending.keys()]) this.abort(id);
  }
}

function healing(poison: string[], o: { always?: boolean; maxInFlight?: number; failStartAfter?: number } = {}) {
  const engines: FakeEngine[] = [];
  const start = async () => {
    if (o.failStartAfter !== undefined && engines.length >= o.failStartAfter) throw new Error('the GPU is gone');
    // A model takes a while to load again: long enough for jobs to arrive meanwhile.
    if (engines.length > 0) await new Promise((r) => setTimeout(r, 20));
    const e = new FakeEngine(new Set(poison), o.always);
    engines.push(e);
    return e;
  };
  return { engines, engine: SelfHealingEngine.start({ start, maxConsecutiveFailures: consecutiveFailureLimit(o.maxInFlight ?? 32), log }) };
}

const job = (i: number, prompt = `job ${i}`): EngineJob => ({ id: `j${i}`, prompt, sampling: {} });
const outcome = (p: Promise<EngineResult>) => p.then((r) => r.outputs[0].text, (e: Error) => e);

describe('SelfHealingEngine', () => {
  it('passes jobs through while the engine works', async () => {
    const { engines, engine } = healing([]);
    const e = await engine;
    expect(await Promise.all(Array.from({ length: 10 }, (_, i) => outcome(e.submit(job(i)))))).toEqual(Array.from({ length: 10 }, (_, i) => `job ${i}`));
    expect(engines).toHaveLength(1);
    expect(e.restarts).toBe(0);
  });

  it('finds the one job that breaks the engine among 31 in flight: it alone is ENGINE_CRASHED, every other job and later ones finish', async () => {
    const { engines, engine } = healing(['poison']);
    const e = await engine;
    const first = Array.from({ length: 31 }, (_, i) => outcome(e.submit(i === 17 ? job(i, 'poison') : job(i))));
    await broken();
    // Submitted while the engine is being healed: held back, then run.
    const later = Array.from({ length: 5 }, (_, i) => outcome(e.submit(job(100 + i))));
    const results = await Promise.all([...first, ...later]);
    const poisoned = results[17] as InvalidJobError;
    expect(poisoned).toBeInstanceOf(InvalidJobError);
    expect(poisoned.deadLetterCode).toBe('ENGINE_CRASHED');
    expect(poisoned.message).toContain('j17');
    results.forEach((r, i) => {
      if (i !== 17) expect(r).toBe(i < 31 ? `job ${i}` : `job ${100 + i - 31}`);
    });
    // A handful of restarts (halving 31 suspects, then the job alone twice), not one per job.
    expect(e.restarts).toBeGreaterThanOrEqual(6);
    expect(e.restarts).toBeLessThanOrEqual(consecutiveFailureLimit(32));
    expect(engines).toHaveLength(e.restarts + 1);
    // Innocent jobs never ran alongside the poison after it was alone.
    expect(engines.at(-1)!.ran).not.toContain('j17');
  });

  it('dead-letters two poison jobs in one batch', async () => {
    const e = await healing(['poison']).engine;
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => outcome(e.submit(i === 3 || i === 9 ? job(i, 'poison') : job(i)))));
    expect(results.filter((r) => r instanceof InvalidJobError).map((r) => (r as InvalidJobError).message)).toEqual([expect.stringContaining('j3') as string, expect.stringContaining('j9') as string]);
    expect(results.filter((r) => typeof r === 'string')).toHaveLength(10);
  });

  it('gives up with ENGINE_FAILED on an engine that breaks on anything, without blaming a job', async () => {
    const { engines, engine } = healing([], { always: true });
    const e = await engine;
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => outcome(e.submit(job(i)))));
    for (const r of results) {
      expect(r).toBeInstanceOf(EngineError);
      expect((r as EngineError).code).toBe('ENGINE_FAILED');
      expect(r).not.toBeInstanceOf(InvalidJobError);
    }
    expect(engines.length).toBeLessThanOrEqual(consecutiveFailureLimit(32) + 1);
    await expect(e.submit(job(99))).rejects.toMatchObject({ code: 'ENGINE_FAILED' });
  });

  it('gives up with ENGINE_FAILED when a new engine cannot start', async () => {
    const e = await healing(['poison'], { failStartAfter: 1 }).engine;
    const results = await Promise.all([outcome(e.submit(job(0, 'poison'))), outcome(e.submit(job(1)))]);
    for (const r of results) expect(r).toMatchObject({ code: 'ENGINE_FAILED', message: expect.stringContaining('the GPU is gone') as string });
  });

  it('a job its caller aborts while it waits is rejected ABORTED and never runs', async () => {
    const { engines, engine } = healing(['poison']);
    const e = await engine;
    const poisoned = outcome(e.submit(job(0, 'poison')));
    await broken();
    const waiting = outcome(e.submit(job(1)));
    e.abort('j1');
    expect(await waiting).toMatchObject({ code: 'ABORTED' });
    expect(await poisoned).toBeInstanceOf(InvalidJobError);
    expect(engines.flatMap((x) => x.ran)).not.toContain('j1');
  });

  it('counts the jobs held back as queued, for backpressure', async () => {
    const e = await healing(['poison']).engine;
    const poisoned = outcome(e.submit(job(0, 'poison')));
    await broken();
    const held = [outcome(e.submit(job(1))), outcome(e.submit(job(2)))];
    expect(e.load().queued).toBeGreaterThanOrEqual(2);
    await Promise.all([poisoned, ...held]);
  });
});
