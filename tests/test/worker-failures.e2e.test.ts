// Workers that die, are stopped, or leave the group mid-batch: nothing is lost and read_committed sees no duplicate.
import { join } from 'node:path';
import { lossAndDuplicates, batchEvidence } from '../src/batch-checks';
import { writeJsonl, type DatasetRow } from '../src/dataset';
import { Pipeline } from '../src/pipeline';

const JOBS = 600;

/** Jobs of fixed work (ignore_eos), so a batch lasts long enough to be interrupted. */
function fixedRows(): DatasetRow[] {
  return Array.from({ length: JOBS }, (_, i) => ({ custom_id: `f-${i}`, prompt: `Count the rivers, number ${i}.`, max_tokens: 64, ignore_eos: true, temperature: 0 }));
}

// Small engine batches keep a worker busy for tens of seconds on the tiny model, so a status poll sees it mid-batch.
const SLOW = { SLUICE_MAX_NUM_SEQS: '8' };

async function producedBatch(p: Pipeline): Promise<{ batch: string; ids: string[] }> {
  const rows = fixedRows();
  const file = join(p.dir, 'jobs.jsonl');
  writeJsonl(file, rows);
  await p.createBucket();
  const { batch_id } = await p.produce(file);
  return { batch: batch_id, ids: rows.map((r) => r.custom_id) };
}

/** Waits until some but not all of the batch is done, and returns how much was done then. */
async function midBatch(p: Pipeline, batch: string, tail: () => string): Promise<number> {
  let done = 0;
  const deadline = Date.now() + 600_000;
  for (;;) {
    p.expectWorkerRunning(`batch ${batch} was half done`);
    const s = await p.status(batch);
    done = s.done;
    if (s.done >= 30) {
      // The interruption must land mid-batch, or the test would prove nothing.
      expect(s.pending).toBeGreaterThan(0);
      return done;
    }
    if (Date.now() > deadline) throw new Error(`no progress on ${batch}: ${JSON.stringify(s)}\n${tail()}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function expectExactlyOnce(p: Pipeline, batch: string, ids: string[]): Promise<void> {
  const evidence = await batchEvidence(p, batch, ids.length);
  expect(lossAndDuplicates(ids, evidence.completions.map((c) => c.job_id))).toEqual({ missing: [], duplicated: [] });
  expect(evidence.completions.filter((c) => c.error !== null)).toEqual([]);
  expect(lossAndDuplicates(ids, evidence.exported)).toEqual({ missing: [], duplicated: [] });
}

describe('worker failures mid-batch', () => {
  it('kill -9, then a restart: nothing lost, no duplicate visible to read_committed or in the export', async () => {
    const p = new Pipeline();
    try {
      const { batch, ids } = await producedBatch(p);
      const first = p.startWorker('killed', SLOW);
      await midBatch(p, batch, () => first.tail());
      first.signal('SIGKILL');
      expect(await first.exited).toBe(137);

      const second = p.startWorker('restarted', SLOW);
      await p.waitForBatch(batch, 900_000, () => second.tail());
      await expectExactlyOnce(p, batch, ids);
    } finally {
      await p.close();
    }
  });

  it('SIGTERM: drains and exits 0 within the drain timeout, and a restart completes the batch without loss', async () => {
    const p = new Pipeline();
    try {
      const { batch, ids } = await producedBatch(p);
      const first = p.startWorker('drained', { ...SLOW, SLUICE_DRAIN_TIMEOUT: '30s' });
      await midBatch(p, batch, () => first.tail());
      const signalled = Date.now();
      first.signal('SIGTERM');
      expect(await first.exited).toBe(0);
      // Drain is bounded by its timeout (plus the final flush and commit), never by the backlog.
      expect(Date.now() - signalled).toBeLessThan(30_000 + 20_000);
      const afterDrain = await p.status(batch);
      expect(afterDrain.pending).toBeGreaterThan(0);

      const second = p.startWorker('restarted', SLOW);
      await p.waitForBatch(batch, 900_000, () => second.tail());
      await expectExactlyOnce(p, batch, ids);
    } finally {
      await p.close();
    }
  });

  it('three workers in one group, one killed mid-run: the other two finish the batch', async () => {
    const p = new Pipeline();
    try {
      const { batch, ids } = await producedBatch(p);
      const workers = ['w1', 'w2', 'w3'].map((name) => p.startWorker(name, SLOW));
      await midBatch(p, batch, () => workers.map((w) => w.tail(10)).join('\n---\n'));
      workers[2].signal('SIGKILL');
      await workers[2].exited;

      await p.waitForBatch(batch, 900_000, () => workers.slice(0, 2).map((w) => w.tail(10)).join('\n---\n'));
      await expectExactlyOnce(p, batch, ids);
      // The survivors are still up: they took the killed worker's partitions over rather than dying with it.
      for (const w of workers.slice(0, 2)) expect(await Promise.race([w.exited, Promise.resolve('running')])).toBe('running');
    } finally {
      await p.close();
    }
  });
});
