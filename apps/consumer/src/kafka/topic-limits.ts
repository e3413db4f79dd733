import { ConfigResourceTypes, type Admin } from 'kafkajs';
import type { Logger } from 'pino';

/**
 * Bytes of a produced record batch that are neither the record's key nor its value: the batch header (61 bytes, with
 * the 12-byte log overhead max.message.bytes counts) and one record's framing (at most 32), with headroom.
 */
export const BATCH_OVERHEAD_BYTES = 128;
/** Kafka's own default max.message.bytes (1 MiB plus the 12-byte log overhead), assumed only where reading it is not allowed. */
export const KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

/** The part of the admin client the limits are read with (a stand-in in unit tests). */
export type ConfigReader = Pick<Admin, 'describeConfigs' | 'describeCluster'>;

/**
 * The effective max.message.bytes of the topics the worker writes, read from the broker on first use (the topic's own
 * setting, else the brokers' message.max.bytes for a topic that does not exist yet) and kept until forget().
 */
export class TopicLimits {
  private readonly reads = new Map<string, Promise<number>>();
  private readonly last = new Map<string, number>();

  constructor(private readonly admin: ConfigReader, private readonly log: Logger) {}

  /** The topic's limit in bytes; a failed read is not cached, so the next commit asks again. */
  maxMessageBytes(topic: string): Promise<number> {
    let read = this.reads.get(topic);
    if (!read) {
      read = this.read(topic).then((bytes) => {
        this.last.set(topic, bytes);
        return bytes;
      });
      this.reads.set(topic, read);
      read.catch(() => this.reads.delete(topic));
    }
    return read;
  }

  /** The limit read last for the topic, for callers that cannot wait (the produce chunking); undefined before any read. */
  known(topic: string): number | undefined {
    return this.last.get(topic);
  }

  /** After the broker refused a record as too large: the next lookup reads every limit again (a topic may have changed). */
  forget(): void {
    this.reads.clear();
  }

  private async read(topic: string): Promise<number> {
    try {
      const { bytes, source } = await this.readConfig(topic);
      this.log.info({ topic, max_message_bytes: bytes, source }, 'topic record size limit read');
      return bytes;
    } catch (err) {
      if (!errorType(err).endsWith('_AUTHORIZATION_FAILED')) throw err;
      this.log.warn({ topic, err, assumed_max_message_bytes: KAFKA_DEFAULT_MAX_MESSAGE_BYTES }, 'not allowed to read the topic or broker config (DescribeConfigs): assuming the Kafka default record size limit');
      return KAFKA_DEFAULT_MAX_MESSAGE_BYTES;
    }
  }

  private async readConfig(topic: string): Promise<{ bytes: number; source: string }> {
    try {
      const { resources } = await this.admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['max.message.bytes'] }] });
      return { bytes: parseLimit(resources[0]?.configEntries.find((e) => e.configName === 'max.message.bytes')?.configValue, `topic "${topic}" max.message.bytes`), source: 'topic' };
    } catch (err) {
      if (errorType(err) !== 'UNKNOWN_TOPIC_OR_PARTITION') throw err;
      return { bytes: await this.brokerLimit(), source: 'broker message.max.bytes (topic not created yet)' };
    }
  }

  /** The smallest message.max.bytes of the brokers: what an auto-created topic will get. */
  private async brokerLimit(): Promise<number> {
    const { brokers } = await this.admin.describeCluster();
    const resources = brokers.map((b) => ({ type: ConfigResourceTypes.BROKER, name: String(b.nodeId), configNames: ['message.max.bytes'] }));
    const { resources: answers } = await this.admin.describeConfigs({ includeSynonyms: false, resources });
    const limits = answers.map((r) => parseLimit(r.configEntries.find((e) => e.configName === 'message.max.bytes')?.configValue, `broker ${r.resourceName} message.max.bytes`));
    if (limits.length === 0) throw new Error('no broker answered with its message.max.bytes');
    return Math.min(...limits);
  }
}

const errorType = (err: unknown) => (err as { type?: string }).type ?? '';

function parseLimit(value: string | undefined, what: string): number {
  const n = Number(value);
  if (value === undefined || !Number.isSafeInteger(n) || n <= BATCH_OVERHEAD_BYTES) throw new Error(`${what} is not a usable record size limit: ${JSON.stringify(value)}`);
  return n;
}
