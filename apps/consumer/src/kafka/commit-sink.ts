import { Partitioners, type Consumer, type Kafka, type Message, type PartitionOffset, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { BATCH_OVERHEAD_BYTES, type TopicLimits } from './topic-limits';

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
/** A record's bytes in a batch: key, value and at most 64 bytes of framing (its length, offset and timestamp deltas). */
const recordBytes = (r: OutRecord) => (r.message.value?.length ?? 0) + (r.message.key == null ? 0 : Buffer.byteLength(r.message.key)) + 64;

/** What the sinks learn of the topics' limits: the last read ones for chunking, and forget() when the broker refuses a record as too large. */
export type SinkLimits = Pick<TopicLimits, 'known' | 'forget'>;

/**
 * The records in produce requests whose batches each stay under CHUNK_BYTES and under every one of their topics'
 * max.message.bytes; a record too big to share a batch (the fitter keeps it under its own topic's limit) goes alone.
 */
export function chunks(records: OutRecord[], maxMessageBytes: (topic: string) => number | undefined = () => undefined): OutRecord[][] {
  const out: OutRecord[][] = [];
  let cur: OutRecord[] = [];
  let size = 0;
  let budget = CHUNK_BYTES;
  for (const r of records) {
    const bytes = recordBytes(r);
    const limit = maxMessageBytes(r.topic);
    const own = limit === undefined ? CHUNK_BYTES : Math.min(CHUNK_BYTES, limit - BATCH_OVERHEAD_BYTES);
    if (cur.length > 0 && size + bytes > Math.min(budget, own)) {
      out.push(cur);
      cur = [];
      size = 0;
      budget = CHUNK_BYTES;
    }
    cur.push(r);
    size += bytes;
    budget = Math.min(budget, own);
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

const TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);

/** Sends the chunks; a record the broker refuses as too large makes the limits be read again before the range is retried. */
async function sendChunks(records: OutRecord[], limits: SinkLimits | undefined, send: (chunk: OutRecord[]) => Promise<unknown>): Promise<void> {
  try {
    for (const chunk of chunks(records, (t) => limits?.known(t))) await send(chunk);
  } catch (err) {
    if (TOO_LARGE.has((err as { type?: string }).type ?? '')) limits?.forget();
    throw err;
  }
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
    private readonly limits?: SinkLimits,
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
      allowAutoTopicCreation: false,
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
      await sendChunks(records, this.limits, (chunk) => txn.sendBatch({ topicMessages: topicMessages(chunk), acks: -1 }));
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

  constructor(kafka: Kafka, private readonly consumer: Consumer, private readonly jobsTopic: string, private readonly limits?: SinkLimits) {
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  }

  async acquire(): Promise<void> {
    this.connected ??= this.producer.connect();
    await this.connected;
  }

  async commit(partition: number, records: OutRecord[], nextOffset: bigint, metadata: string): Promise<void> {
    await sendChunks(records, this.limits, (chunk) => this.producer.sendBatch({ topicMessages: topicMessages(chunk), acks: -1 }));
    await this.consumer.commitOffsets([{ topic: this.jobsTopic, partition, offset: String(nextOffset), metadata }]);
  }

  async release(): Promise<void> {}

  async close(): Promise<void> {
    if (this.connected) await this.producer.disconnect();
  }
}
