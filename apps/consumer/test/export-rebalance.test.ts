// The S3 export under rebalances, zombie workers and a crash between commit and manifest update, against real
// Kafka and S3: the batch manifest lists every committed part, and only those, so it covers each job exactly once.
import { createHash, randomUUID } from 'node:crypto';
import pino from 'pino';
import { Exporter, type ExportItem } from '../src/export/exporter';
import { S3ObjectStore } from '../src/export/s3-store';
import { TransactionalSink } from '../src/kafka/commit-sink';
import type { Completion } from '../src/jobs/schema';
import {
  asJson, committedTotal, createTopics, getObject, jobs, kafka, listKeys, produce, s3, s3Env, startConsumer, waitFor, waitForCaughtUp, type RunningConsumer, suiteFixture,
} from './harness';

interface ManifestOut {
  completions: number;
  errors: number;
  parts: Array<{ key: string; partition: number; first_offset: number; last_offset: number; records: number; bytes: number; sha256: string }>;
}

const log = pino({ level: 'silent' });

describe('S3 export under rebalances and crashes (real Kafka + S3)', () => {
  const fx = suiteFixture('sluice-rebalance');
  const bucket = fx.bucket;

  async function setup(label: string, partitions: number, total: number) {
    const id = `${label}-${randomUUID().slice(0, 8)}`;
    const t = { jobs: `jobs-${id}`, results: `results-${id}`, dlq: `dlq-${id}`, group: `group-${id}`, batch: `batch-${id}`, prefix: `exp-${id}` };
    await createTopics(fx.admin, [t.jobs, t.results, t.dlq], partitions);
    await produce(t.jobs, asJson(jobs(t.batch, total)), partitions);
    const args = ['--jobs-topic', t.jobs, '--results-topic', t.results, '--dlq-topic', t.dlq, '--group', t.group];
    return { t, args };
  }

  /** Reads the manifest and every part it lists; checks checksums, sizes, counts and disjoint ranges per partition. */
  async function exportedJobs(t: { batch: string; prefix: string }): Promise<{ manifest: ManifestOut; jobIds: string[] }> {
    const manifest = JSON.parse((await getObject(bucket, `${t.prefix}/batch_id=${t.batch}/manifest.json`)).toString()) as ManifestOut;
    const jobIds: string[] = [];
    for (const p of manifest.parts) {
      const body = await getObject(bucket, p.key);
      expect({ key: p.key, sha256: createHash('sha256').update(body).digest('hex'), bytes: body.length }).toEqual({ key: p.key, sha256: p.sha256, bytes: p.bytes });
      const lines = body.toString().trim().split('\n');
      expect(lines).toHaveLength(p.records);
      jobIds.push(...lines.map((l) => (JSON.parse(l) as { job_id: string }).job_id));
    }
    for (const [a, b] of manifest.parts.slice(1).map((p, i) => [manifest.parts[i], p])) {
      if (a.partition === b.partition) expect(b.first_offset).toBeGreaterThan(a.last_offset);
    }
    return { manifest, jobIds };
  }

  it('separate workers publishing to one batch at once lose no part, though S3Proxy lets racing conditional writes both succeed', async () => {
    const prefix = `race-${randomUUID().slice(0, 8)}`;
    const workers = [0, 1, 2, 3].map(
      (w) => new Exporter(new S3ObjectStore(s3, { bucket, multipartThreshold: 8 * 1024 * 1024 }), { prefix, format: 'jsonl', workerId: `w${w}`, retry: { attempts: 3, baseDelayMs: 50, maxDelayMs: 200 } }, log),
    );
    await Promise.all(
      workers.map(async (x, w) => {
        for (let i = 0; i < 8; i++) {
          const items = [0, 1, 2].map((k) => ({ offset: BigInt(i * 3 + k), completion: completionOf(`j-${w}-${i}-${k}`, 'b', 'p') }));
          await x.publish(await x.stageRange(w, items));
        }
      }),
    );
    const manifest = JSON.parse((await getObject(bucket, `${prefix}/batch_id=b/manifest.json`)).toString()) as ManifestOut;
    expect(manifest.parts).toHaveLength(32);
    expect(manifest.completions).toBe(96);
  });

  it('S3 store: holds() tells whether an object has exactly the given bytes, single and multipart', async () => {
    const store = new S3ObjectStore(s3, { bucket, multipartThreshold: 5 * 1024 * 1024 });
    for (const size of [100, 6 * 1024 * 1024]) {
      const key = `holds/${size}-${randomUUID()}`;
      const body = Buffer.alloc(size, 7);
      expect(await store.holds(key, body)).toBe(false);
      await store.put(key, body, 'application/octet-stream');
      expect(await store.holds(key, body)).toBe(true);
      expect(await store.holds(key, Buffer.alloc(size, 8))).toBe(false);
      expect(await store.holds(key, Buffer.alloc(size + 1, 7))).toBe(false);
    }
  });

  it('a range committed by a worker that died before listing its parts is listed by the next owner (offset metadata)', async () => {
    const total = 20;
    const { t, args } = await setup('repair', 1, total);
    // The crashed worker: parts written and the range committed with its note as offset metadata, manifest never updated.
    const exporter = new Exporter(
      new S3ObjectStore(s3, { bucket, multipartThreshold: 8 * 1024 * 1024 }),
      { prefix: t.prefix, format: 'jsonl', workerId: 'crashed', retry: { attempts: 3, baseDelayMs: 50, maxDelayMs: 200 } },
      log,
    );
    const items: ExportItem[] = jobs(t.batch, 10).map((j, i) => ({ offset: BigInt(i), completion: completionOf(j.job_id, t.batch, j.prompt ?? '') }));
    const staged = await exporter.stageRange(0, items);
    const sink = new TransactionalSink(kafka, { transactionalIdPrefix: `crashed-${t.group}`, jobsTopic: t.jobs, groupId: t.group }, log);
    await sink.acquire(0);
    await sink.commit(0, [], 10n, staged.note);
    await sink.close();
    // The transaction's offsets become readable once its markers are written, shortly after the commit returns.
    await waitFor('the committed offset', async () => (await committedTotal(fx.admin, t.group, t.jobs)) === 10);
    const [offsets] = await fx.admin.fetchOffsets({ groupId: t.group, topics: [t.jobs] });
    expect(offsets.partitions).toEqual([{ partition: 0, offset: '10', metadata: staged.note }]);
    expect(await listKeys(bucket, `${t.prefix}/batch_id=${t.batch}/manifest.json`)).toEqual([]);

    const next = startConsumer([...args, '--commit-interval-ms', '100'], s3Env(bucket, t.prefix));
    await waitForCaughtUp(fx.admin, t.group, t.jobs);
    next.child.kill('SIGTERM');
    expect(await next.exited).toBe(0);
    expect(next.logs.some((l) => l.includes('listed a committed part its committer did not get to list'))).toBe(true);

    const { manifest, jobIds } = await exportedJobs(t);
    expect(manifest.parts[0].key).toBe(staged.parts[0].entry.key);
    expect(manifest.completions).toBe(total);
    expect(jobIds.sort()).toEqual(jobs(t.batch, total).map((j) => j.job_id).sort());
  });

  // At-least-once may repeat results on the topic, but a range's offsets are committed once, so its parts are listed once.
  it.each(['exactly-once', 'at-least-once'])('%s: three workers joining one by one, one killed with SIGKILL mid-run: the manifest covers every job exactly once', async (delivery) => {
    const total = 600;
    const { t, args } = await setup('three', 3, total);
    const env = { ...s3Env(bucket, t.prefix), SLUICE_DELIVERY: delivery, SLUICE_ECHO_DELAY_MS: '300', SLUICE_MAX_IN_FLIGHT: '8', SLUICE_COMMIT_INTERVAL_MS: '100', SLUICE_MAX_PART_RECORDS: '8', SLUICE_SESSION_TIMEOUT_MS: '6000' };
    const workers: RunningConsumer[] = [];
    const start = (name: string) => workers.push(startConsumer([...args, '--worker-id', name], env));
    const progress = async (n: number) => waitFor(`${n} jobs committed`, async () => (await committedTotal(fx.admin, t.group, t.jobs)) >= n);
    // Each join moves partitions between workers that are still committing them: the window zombies live in.
    start('w1');
    await progress(40);
    start('w2');
    await progress(120);
    start('w3');
    await progress(240);
    workers[2].child.kill('SIGKILL');
    await workers[2].exited;
    expect(await committedTotal(fx.admin, t.group, t.jobs)).toBeLessThan(total);

    try {
      await waitForCaughtUp(fx.admin, t.group, t.jobs);
    } finally {
      for (const w of workers.slice(0, 2)) w.child.kill('SIGTERM');
    }
    for (const w of workers.slice(0, 2)) {
      const code = await w.exited;
      expect({ code, log: code === 0 ? [] : w.logs.filter((l) => l.includes('"level":50') || l.includes('"level":40')).slice(-10) }).toEqual({ code: 0, log: [] });
    }

    const { manifest, jobIds } = await exportedJobs(t);
    expect(manifest.parts.reduce((s, p) => s + p.records, 0)).toBe(total);
    expect(manifest.completions).toBe(total);
    expect(new Set(jobIds).size).toBe(total);
    expect(jobIds).toHaveLength(total);
  });
});

function completionOf(jobId: string, batchId: string, prompt: string): Completion {
  return {
    job_id: jobId,
    batch_id: batchId,
    outputs: [{ index: 0, text: prompt, finish_reason: 'stop' }],
    usage: { prompt_tokens: 1, completion_tokens: 1 },
    timings: { queued_ms: 0, total_ms: 0 },
    model: 'echo',
    worker_id: 'crashed',
    metadata: {},
    error: null,
    completed_at: Date.now(),
  };
}
