// Reads a topic from its start to the end it had when reading began, read_committed, then stops.
import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { CliError, EXIT } from '../errors';

export interface TopicRecord {
  partition: number;
  message: KafkaMessage;
}

export interface ReadOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Calls `onRecord` for every committed record up to the end offsets taken at the start; resolves with the count. */
export async function readTopicToEnd(kafka: Kafka, topic: string, onRecord: (r: TopicRecord) => void | Promise<void>, options: ReadOptions): Promise<number> {
  const admin = kafka.admin();
  let ends: Map<number, bigint>;
  try {
    await admin.connect();
    if (!(await admin.listTopics()).includes(topic)) throw new CliError(EXIT.USAGE, `topic ${topic} does not exist`);
    const offsets = await admin.fetchTopicOffsets(topic);
    ends = new Map(offsets.filter((p) => BigInt(p.high) > BigInt(p.low)).map((p) => [p.partition, BigInt(p.high)]));
  } finally {
    await admin.disconnect();
  }
  if (ends.size === 0) return 0;

  // A throwaway group that never commits: reading leaves no trace a real consumer group would see.
  const consumer = kafka.consumer({ groupId: `sluice-cli-${randomUUID()}`, readUncommitted: false, allowAutoTopicCreation: false });
  const positions = new Map<number, bigint>();
  let count = 0;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const behind = [...ends].filter(([p, end]) => (positions.get(p) ?? -1n) + 1n < end).map(([p, end]) => `partition ${p} at ${(positions.get(p) ?? -1n) + 1n} of ${end}`);
        reject(new CliError(EXIT.SERVICE, `timed out after ${options.timeoutMs} ms reading ${topic} (${behind.join(', ')}); an open transaction holds read_committed readers back until it ends`));
      }, options.timeoutMs);
      const onAbort = () => reject(new CliError(EXIT.INTERRUPTED, `interrupted while reading ${topic}`));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const finish = (err?: unknown) => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      // Batch ends report the last offset fetched, transaction markers included, which records alone never reach.
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        if (payload.topic !== topic) return;
        positions.set(payload.partition, BigInt(payload.lastOffset));
        if ([...ends].every(([p, end]) => (positions.get(p) ?? -1n) + 1n >= end)) finish();
      });
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const end = ends.get(partition);
            if (end === undefined || BigInt(message.offset) >= end) return;
            count += 1;
            try {
              await onRecord({ partition, message });
            } catch (err) {
              // Stop at the first record the caller cannot handle instead of letting kafkajs retry it forever.
              finish(err);
            }
          },
        })
        .catch(finish);
    });
  } finally {
    await consumer.disconnect();
  }
  return count;
}
