// sluice_partition_lag against the broker's own offsets while backpressure holds the fetch: slow jobs, one in flight,
// so most of the topic sits unfetched. The gauge must equal high watermark - committed offset, not read 0.
// The per-job latency histograms count every completed job.
import { randomUUID } from 'node:crypto';
import { asJson, createTopics, jobs, kafka, metricsPort, produce, s3Env, sample, startConsumer, suiteFixture, waitFor, waitForCaughtUp } from './harness';

const PARTITIONS = 2;
const TOTAL = 30;

describe('sluice_partition_lag under backpressure', () => {
  const fx = suiteFixture('sluice-lag');

  it('is the broker high watermark minus the committed offset, and the histograms count every job', async () => {
    const id = randomUUID().slice(0, 8);
    const t = { jobs: `jobs-lag-${id}`, results: `results-lag-${id}`, dlq: `dlq-lag-${id}`, group: `group-lag-${id}`, batch: `batch-lag-${id}` };
    await createTopics(fx.admin, [t.jobs, t.results, t.dlq], PARTITIONS);
    await produce(t.jobs, asJson(jobs(t.batch, TOTAL)), PARTITIONS);
    const c = startConsumer(
      ['--jobs-topic', t.jobs, '--results-topic', t.results, '--dlq-topic', t.dlq, '--group', t.group, '--echo-delay-ms', '800', '--max-in-flight', '1', '--commit-interval-ms', '100'],
      s3Env(fx.bucket, `exp-${id}`),
    );
    try {
      const base = `http://127.0.0.1:${await metricsPort(c)}`;
      const admin = kafka.admin();
      await admin.connect();
      try {
        /** Jobs not yet committed, over all partitions, as the broker counts them. */
        const brokerLag = async () => {
          const ends = await admin.fetchTopicOffsets(t.jobs);
          const [committed] = await admin.fetchOffsets({ groupId: t.group, topics: [t.jobs] });
          const at = new Map(committed.partitions.map((p) => [p.partition, Math.max(0, Number(p.offset))]));
          return ends.reduce((sum, e) => sum + Number(e.high) - (at.get(e.partition) ?? 0), 0);
        };
        // Lag only falls, as the worker commits: a gauge read between two broker reads lies between them (retried
        // until the scrape falls right after one of the worker's 2-s reads, with no commit since).
        await waitFor('a scrape while paused, with most jobs waiting, matching the broker', async () => {
          const before = await brokerLag();
          const text = await (await fetch(`${base}/metrics`)).text();
          const after = await brokerLag();
          const gauges = [0, 1].map((p) => sample(text, `sluice_partition_lag{topic="${t.jobs}",partition="${p}"}`));
          if (sample(text, 'sluice_consumer_paused') !== 1 || gauges.includes(undefined)) return false;
          const total = gauges.reduce((sum, g) => sum! + g!, 0)!;
          return total > TOTAL / 4 && total <= before && total >= after;
        }, 60_000);
      } finally {
        await admin.disconnect();
      }
      await waitForCaughtUp(fx.admin, t.group, t.jobs);
      await waitFor('the lag to read 0 after the last commit', async () => {
        const text = await (await fetch(`${base}/metrics`)).text();
        return [0, 1].every((p) => sample(text, `sluice_partition_lag{topic="${t.jobs}",partition="${p}"}`) === 0);
      });
      const text = await (await fetch(`${base}/metrics`)).text();
      for (const h of ['sluice_job_queue_seconds', 'sluice_job_time_to_first_token_seconds', 'sluice_job_end_to_end_seconds']) expect(sample(text, `${h}_count`)).toBe(TOTAL);
      // Echo jobs take 800 ms each, so none ends in the first bucket and every one is well under a minute.
      expect(sample(text, 'sluice_job_end_to_end_seconds_bucket{le="0.1"}')).toBe(0);
      expect(sample(text, 'sluice_job_end_to_end_seconds_bucket{le="60"}')).toBe(TOTAL);
      expect(sample(text, 'sluice_process_cpu_seconds_total')).toBeGreaterThan(0);
      expect(text).not.toContain('sluice_process_process_');
    } finally {
      c.child.kill('SIGTERM');
      await c.exited;
    }
  });
});
