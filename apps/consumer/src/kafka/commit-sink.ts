import { Partitioners, type Consumer, type Kafka, type Message, type PartitionOffset, type Producer } from 'kafkajs';
import type { Logger } from 'pino';

export interface OutRecord {
  topic: string;
  message: Message;
}

/**
 * How a partition's finished range leaves the worker: its completions and dead letters plus the offset commit, whose
 * metadata carries the range's export note. acquire() runs before a newly assigned partition is consumed; release() when it is revoked.
 */
export interface CommitSink {
  acquire(partition: number): Promise<void>;
  commit(partition: number, records: OutRecord[], nextOffset: bigint, metadata: string): Promise<void>;
  release(partition: number): Promise<void>;
  close(): Promise<void>;
}

// Keeps each produce request under the broker's default message.max.bytes (1 MiB) whatever the range size.
const CHUNK_BYTES = 512 * 1024;

function chunks(records: OutRecord[]): OutRecord[][] {
  const out: OutRecord[][] = [];
  let cur: OutRecord[] = [];
  let size = 0;
  for (const r of records) {
    const bytes = (r.message.value?.length ?? 0) + (r.message.key?.length ?? 0) + 64;
    if (cur.length > 0 && size + bytes > CHUNK_BYTES) {
      out.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(r);
    size += bytes;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

function topicMessages(records: OutRecord[]): Array<{ topic: string; messages: Message[] }> {
  const byTopic = new Map<string, Message[]>();
  for (const r of records) {
    const list = byTopic.get(r.topic);
    if (list) list.push(r.message);
    else byTopic.set(r.topic, [r.message]);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/**
 * Exactly-once: one transactional producer per assigned jobs partition, transactional.id = <prefix>-<topic>-<partition>.
 * kafkajs commits offsets in a transaction without the consumer group's generation (no KIP-447), so zombie fencing
 * must come from the transactional.id itself: a partition's id is the same whichever worker owns it, and the new
 * owner's InitProducerId bumps the epoch, aborting the old owner's open transaction and fencing its later commits.
 * A per-worker id would let a paused, revoked worker still commit results for a partition someone else now runs.
 */
export class TransactionalSink implements CommitSink {
  private readonly producers = new Map<number, Producer>();

  constructor(
    private readonly kafka: Kafka,
    private readonly opts: { transactionalIdPrefix: string; jobsTopic: string; groupId: string },
    private readonly log: Logger,
  ) {}

  transactionalId(partition: number): string {
    return `${this.opts.transactionalIdPrefix}-${this.opts.jobsTopic}-${partition}`;
  }

  async acquire(partition: number): Promise<void> {
    await this.release(partition);
    const producer = this.kafka.producer({
      transactionalId: this.transactionalId(partition),
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    // An empty transaction runs InitProducerId now: this fences any previous owner before we read the committed offset.
    const txn = await producer.transaction();
    await txn.abort();
    this.producers.set(partition, producer);
  }

  async commit(partition: number, records: OutRecord[], nextOffset: bigint, metadata: string): Promise<void> {
    const producer = this.producers.get(partition);
    if (!producer) throw new Error(`partition ${partition} has no transactional producer (not acquired)`);
    const txn = await producer.transaction();
    try {
      for (const chunk of chunks(records)) await txn.sendBatch({ topicMessages: topicMessages(chunk), acks: -1 });
      // kafkajs sends each partition's metadata in TxnOffsetCommit, though its PartitionOffset type leaves the field out.
      const partitions: Array<PartitionOffset & { metadata: string }> = [{ partition, offset: String(nextOffset), metadata }];
      await txn.sendOffsets({ consumerGroupId: this.opts.groupId, topics: [{ topic: this.opts.jobsTopic, partitions }] });
      await txn.commit();
    } catch (err) {
      await txn.abort().catch((abortErr: Error) => this.log.warn({ err: abortErr, partition }, 'aborting the failed transaction failed too'));
      throw err;
    }
  }

  async release(partition: number): Promise<void> {
    const producer = this.producers.get(partition);
    this.producers.delete(partition);
    await producer?.disconnect();
  }

  async close(): Promise<void> {
    await Promise.all([...this.producers.keys()].map((p) => this.release(p)));
  }
}

/** At-least-once: one idempotent producer; records are acknowledged before the consumer commits the offsets. */
export class AtLeastOnceSink implements CommitSink {
  private readonly producer: Producer;
  private connected: Promise<void> | undefined;

  constructor(kafka: Kafka, private readonly consumer: Consumer, private readonly jobsTopic: string) {
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  }

  async acquire(): Promise<void> {
    this.connected ??= this.producer.connect();
    await this.connected;
  }

  async commit(partition: number, records: OutRecord[], nextOffset: bigint, metadata: string): Promise<void> {
    for (const chunk of chunks(records)) await this.producer.sendBatch({ topicMessages: topicMessages(chunk), acks: -1 });
    await this.consumer.commitOffsets([{ topic: this.jobsTopic, partition, offset: String(nextOffset), metadata }]);
  }

  async release(): Promise<void> {}

  async close(): Promise<void> {
    if (this.connected) await this.producer.disconnect();
  }
}
