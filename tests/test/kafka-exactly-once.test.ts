// 1,000 messages through the real local broker: produced once, consumed by a consumer group exactly once.
import { randomUUID } from 'node:crypto';
import { Kafka, Partitioners, logLevel, type Admin, type Consumer, type Producer } from 'kafkajs';
import { e2eEndpoints } from '../src/harness';

const TOTAL = 1000;
const PARTITIONS = 3;
const BATCH = 100;

describe('Kafka through the local broker', () => {
  const kafka = new Kafka({ clientId: 'sluice-e2e', brokers: e2eEndpoints().brokers, logLevel: logLevel.ERROR });
  const topic = `e2e-exactly-once-${randomUUID()}`;
  const groupId = `e2e-group-${randomUUID()}`;
  let admin: Admin;
  let producer: Producer;
  let consumer: Consumer;

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
  });

  afterAll(async () => {
    await consumer?.disconnect();
    await producer?.disconnect();
    await admin.deleteTopics({ topics: [topic] });
    await admin.disconnect();
  });

  it('delivers each of 1,000 messages on a 3-partition topic to the group exactly once', async () => {
    await expect(admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true })).resolves.toBe(true);

    // Idempotent producer: broker-side dedup means a retried send can never write a second copy.
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    for (let start = 0; start < TOTAL; start += BATCH) {
      const messages = Array.from({ length: BATCH }, (_, i) => ({ key: `key-${start + i}`, value: JSON.stringify({ id: start + i }) }));
      await producer.send({ topic, acks: -1, messages });
    }

    // The log holds exactly TOTAL records, spread over every partition.
    const written = await admin.fetchTopicOffsets(topic);
    expect(written).toHaveLength(PARTITIONS);
    expect(written.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0)).toBe(TOTAL);
    for (const p of written) expect(Number(p.high)).toBeGreaterThan(0);

    const ids: number[] = [];
    const lastOffset = new Map<number, bigint>();
    const offsetsInOrder: boolean[] = [];
    consumer = kafka.consumer({ groupId });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const offset = BigInt(message.offset);
            const previous = lastOffset.get(partition);
            offsetsInOrder.push(previous === undefined || offset > previous);
            lastOffset.set(partition, offset);
            ids.push((JSON.parse(message.value?.toString() ?? 'null') as { id: number }).id);
            if (ids.length === TOTAL) resolve();
          },
        })
        .catch(reject);
    });
    await consumer.commitOffsets([...lastOffset].map(([partition, offset]) => ({ topic, partition, offset: String(offset + 1n) })));
    await consumer.stop();

    expect(ids).toHaveLength(TOTAL);
    expect(new Set(ids).size).toBe(TOTAL);
    expect([...ids].sort((a, b) => a - b)).toEqual(Array.from({ length: TOTAL }, (_, i) => i));
    expect(offsetsInOrder.every(Boolean)).toBe(true);
    expect([...lastOffset.keys()].sort()).toEqual([0, 1, 2]);

    // The group's committed position is the end of every partition: nothing left over, nothing read twice.
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const high = new Map(written.map((p) => [p.partition, p.high]));
    for (const p of committed.partitions) expect(p.offset).toBe(high.get(p.partition));
  });
});
