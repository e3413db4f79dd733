// Reads a whole topic as a read_committed consumer sees it: every record from the start up to the current end.
import { Kafka, logLevel } from 'kafkajs';

export interface TopicRecord {
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer;
}

/** All committed records of `topic`, grouped reads ending when each partition reaches its last stable offset. */
export async function readCommitted(brokers: string[], topic: string, timeoutMs = 120_000): Promise<TopicRecord[]> {
  const kafka = new Kafka({ clientId: 'e2e-reader', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  // Call it when no transaction is open on the topic: the end read here is the high watermark.
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const pending = new Map(ends.filter((p) => BigInt(p.high) > BigInt(p.low)).map((p) => [p.partition, BigInt(p.high)]));
  const records: TopicRecord[] = [];
  if (pending.size === 0) return records;

  const consumer = kafka.consumer({ groupId: `e2e-reader-${process.pid}-${Date.now()}-${Math.random()}`, readUncommitted: false, maxWaitTimeInMs: 200 });
  // A fetch holding only a transaction marker (after a record near the fetch size) calls no eachBatch, but ends a batch.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    const end = pending.get(payload.partition);
    if (end !== undefined && BigInt(payload.lastOffset) + 1n >= end) pending.delete(payload.partition);
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    const timer = setInterval(() => {
      if (pending.size === 0) resolveDone();
    }, 100);
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) records.push({ partition: batch.partition, offset: m.offset, key: m.key?.toString() ?? null, value: m.value ?? Buffer.alloc(0) });
        // Transaction markers occupy offsets too, so the batch's last offset (not its last record) marks progress.
        const end = pending.get(batch.partition);
        if (end !== undefined && BigInt(batch.lastOffset()) + 1n >= end) pending.delete(batch.partition);
      },
    });
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`reading ${topic}: partitions ${[...pending.keys()].join(',')} did not reach their end in ${timeoutMs} ms`)), timeoutMs).unref());
    try {
      await Promise.race([done, timeout]);
    } finally {
      clearInterval(timer);
    }
  } finally {
    await consumer.disconnect();
  }
  return records;
}
