// Records too large for their topic, against real Kafka + S3: gzip-compressed jobs whose dead letters or completions
// would be over the DLQ or results topic's max.message.bytes are cut to fit, so the partition never blocks.
import { createHash, randomUUID } from 'node:crypto';
import { CompressionTypes, ConfigResourceTypes, Partitioners, type Admin } from 'kafkajs';
import {
  decodeCompletion, decodeDeadLetter, getObject, kafka, readCommitted, s3Env, startConsumer, suiteFixture, waitFor, waitForCaughtUp,
} from './harness';

const MiB = 1024 * 1024;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A value that is no job in any wire format (0xff starts no format) but compresses well, as a real 10 MiB blob might. */
function notAJob(bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) b[i] = (i * 31 + (i >> 12)) & 0xff;
  b[0] = 0xff;
  return b;
}

/** Produces the values gzip-compressed, in order, on partition 0. */
async function produceGzip(topic: string, values: Buffer[]): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages: values.map((value, i) => ({ key: `k-${i}`, value, partition: 0 })) });
  } finally {
    await producer.disconnect();
  }
}

const topicLimit = async (admin: Admin, topic: string) => {
  const { resources } = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['max.message.bytes'] }] });
  return Number(resources[0].configEntries[0].configValue);
};

describe('sluice-consumer with records too large for their topics (real Kafka + S3)', () => {
  const fx = suiteFixture('sluice-oversize');

  it.each([
    ['exactly-once'],
    ['at-least-once'],
  ])('%s: dead-letters a 1.5 MiB prompt and a 10 MiB value into a 1 MiB DLQ, cut with their size and SHA-256, and never blocks', async (delivery) => {
    const id = randomUUID().slice(0, 8);
    const topics = { jobs: `jobs-${id}`, results: `results-${id}`, dlq: `dlq-${id}` };
    const group = `group-${id}`;
    const batch = `batch-${id}`;
    // Jobs take up to 16 MiB; the DLQ keeps the broker default (1 MiB); the results topic takes 64 KiB.
    const limit = (bytes: number) => [{ name: 'max.message.bytes', value: String(bytes) }];
    await fx.admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: topics.jobs, numPartitions: 1, replicationFactor: 1, configEntries: limit(16 * MiB) },
        { topic: topics.results, numPartitions: 1, replicationFactor: 1, configEntries: limit(64 * 1024) },
        // The worker never lets the broker auto-create a topic (test/fail-fast.test.ts): the DLQ is made here.
        { topic: topics.dlq, numPartitions: 1, replicationFactor: 1 },
      ],
    });
    const job = (n: string, prompt: string) => Buffer.from(JSON.stringify({ job_id: `${batch}-${n}`, batch_id: batch, prompt, created_at: Date.now() }));
    const bigPrompt = job('big-prompt', 'p'.repeat(1.5 * MiB)); // over --max-prompt-bytes: dead-lettered
    const bigValue = notAJob(10 * MiB); // undecodable: dead-lettered
    const bigAnswer = job('big-answer', 'e'.repeat(100 * 1024)); // the echo engine answers with it: over the results topic's 64 KiB
    const values = [job('good-0', 'hello'), bigPrompt, job('good-1', 'again'), bigValue, bigAnswer, job('good-2', 'last')];
    await produceGzip(topics.jobs, values);

    const args = ['--jobs-topic', topics.jobs, '--results-topic', topics.results, '--dlq-topic', topics.dlq, '--group', group, '--delivery', delivery, '--max-prompt-bytes', String(MiB), '--commit-interval-ms', '200'];
    const c = startConsumer(args, s3Env(fx.bucket, `exp-${id}`));
    try {
      await waitForCaughtUp(fx.admin, group, topics.jobs);
    } catch (err) {
      c.child.kill('SIGKILL');
      throw new Error(`${(err as Error).message}\n${c.logs.slice(-20).join('\n').slice(0, 20_000)}`);
    }
    c.child.kill('SIGTERM');
    expect(await c.exited).toBe(0);
    expect(c.logs.filter((l) => l.includes('commit failed'))).toEqual([]);

    // Each oversized message is on the DLQ once, cut, with the size and hash of the whole original and where it is.
    const dead = await Promise.all((await readCommitted(fx.admin, topics.dlq)).map((m) => decodeDeadLetter(m.value)));
    expect(dead.map((d) => d.source_offset).sort()).toEqual([1, 3]);
    for (const d of dead) {
      const original = values[d.source_offset];
      expect(d).toMatchObject({ source_topic: topics.jobs, source_partition: 0, value_truncated: true, value_size: original.length, value_sha256: sha256(original) });
      expect(original.subarray(0, d.value?.length ?? 0).equals(d.value ?? Buffer.alloc(0))).toBe(true);
    }
    // The worker read the DLQ's limit from the broker and logged each cut with it.
    const lines = c.logs.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; topic?: string; source?: string; source_offset?: number; max_message_bytes?: number });
    const read = lines.find((l) => l.msg === 'topic record size limit read' && l.topic === topics.dlq);
    expect(read?.source).toBe('topic');
    const cuts = lines.filter((l) => l.msg === 'dead letter too large for its topic: cut to fit');
    expect(cuts.map((l) => [l.source_offset, l.max_message_bytes]).sort()).toEqual([[1, 1_048_588], [3, 1_048_588]]);

    // The good jobs completed; the answer too large for the results topic is a RESULT_TOO_LARGE error completion, in the export too.
    const results = await Promise.all((await readCommitted(fx.admin, topics.results)).map((m) => decodeCompletion(m.value)));
    const byId = new Map(results.map((r) => [r.job_id.slice(batch.length + 1), r]));
    expect([...byId.keys()].sort()).toEqual(['big-answer', 'good-0', 'good-1', 'good-2']);
    expect(results).toHaveLength(4);
    expect(byId.get('good-2')?.outputs[0].text).toBe('last');
    expect(byId.get('big-answer')?.error?.code).toBe('RESULT_TOO_LARGE');
    expect(byId.get('big-answer')?.error?.message).toMatch(/over the 65536-byte max.message.bytes of topic/);
    const manifest = JSON.parse((await getObject(fx.bucket, `exp-${id}/batch_id=${batch}/manifest.json`)).toString()) as { completions: number; errors: number };
    expect(manifest).toMatchObject({ completions: 3, errors: 1 });
  });

  it('reads the DLQ limit again after the broker refuses a record as too large (the topic was changed under the worker)', async () => {
    const id = randomUUID().slice(0, 8);
    const topics = { jobs: `jobs-${id}`, results: `results-${id}`, dlq: `dlq-${id}` };
    const group = `group-${id}`;
    await fx.admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: topics.jobs, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'max.message.bytes', value: String(16 * MiB) }] },
        { topic: topics.results, numPartitions: 1, replicationFactor: 1 },
        { topic: topics.dlq, numPartitions: 1, replicationFactor: 1 },
      ],
    });
    const good = (n: number) => Buffer.from(JSON.stringify({ job_id: `${id}-good-${n}`, batch_id: `batch-${id}`, prompt: 'hi', created_at: Date.now() }));
    const c = startConsumer(['--jobs-topic', topics.jobs, '--results-topic', topics.results, '--dlq-topic', topics.dlq, '--group', group, '--commit-interval-ms', '200', '--export', 'false']);
    await produceGzip(topics.jobs, [good(0)]);
    await waitForCaughtUp(fx.admin, group, topics.jobs); // the worker has read the DLQ's 1 MiB limit by now
    const small = 100 * 1024;
    await fx.admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topics.dlq, configEntries: [{ name: 'max.message.bytes', value: String(small) }] }] });
    await waitFor('the broker to apply the smaller DLQ limit', async () => (await topicLimit(fx.admin, topics.dlq)) === small);
    const bad = notAJob(500 * 1024); // fits the 1 MiB the worker knew, not the 100 KiB the topic takes now
    await produceGzip(topics.jobs, [bad, good(1)]);
    await waitForCaughtUp(fx.admin, group, topics.jobs);
    c.child.kill('SIGTERM');
    expect(await c.exited).toBe(0);

    const reads = c.logs.filter((l) => l.includes('"msg":"topic record size limit read"') && l.includes(`"topic":"${topics.dlq}"`)).map((l) => (JSON.parse(l) as { max_message_bytes: number }).max_message_bytes);
    expect(reads).toEqual([1_048_588, small]);
    const [letter, ...others] = await readCommitted(fx.admin, topics.dlq);
    expect(others).toEqual([]);
    expect(letter.value.length).toBeLessThanOrEqual(small);
    expect(await decodeDeadLetter(letter.value)).toMatchObject({ source_offset: 1, value_truncated: true, value_size: bad.length, value_sha256: sha256(bad) });
    expect((await readCommitted(fx.admin, topics.results)).length).toBe(2);
  });
});
