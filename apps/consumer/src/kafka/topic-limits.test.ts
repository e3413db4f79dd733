import { ConfigResourceTypes } from 'kafkajs';
import pino from 'pino';
import { KAFKA_DEFAULT_MAX_MESSAGE_BYTES, TopicLimits, type ConfigReader } from './topic-limits';

type Resource = { type: number; name: string };

/** A stand-in for the admin client's config reads: topic configs by name, broker configs by node id. */
function reader(topics: Record<string, string>, brokers: Record<string, string>, fail?: { type: string }) {
  const calls: Resource[][] = [];
  const admin = {
    describeCluster: () => Promise.resolve({ brokers: Object.keys(brokers).map((id) => ({ nodeId: Number(id), host: 'h', port: 1 })), controller: 1, clusterId: 'c' }),
    describeConfigs: ({ resources }: { resources: Resource[] }) => {
      calls.push(resources);
      if (fail) return Promise.reject(Object.assign(new Error(fail.type), fail));
      const answers = resources.map((r) => {
        if (r.type === ConfigResourceTypes.TOPIC && !(r.name in topics)) throw Object.assign(new Error('unknown'), { type: 'UNKNOWN_TOPIC_OR_PARTITION' });
        const [configName, configValue] = r.type === ConfigResourceTypes.TOPIC ? ['max.message.bytes', topics[r.name]] : ['message.max.bytes', brokers[r.name]];
        return { resourceName: r.name, resourceType: r.type, errorCode: 0, errorMessage: null, configEntries: [{ configName, configValue }] };
      });
      return Promise.resolve({ resources: answers, throttleTime: 0 });
    },
  } as unknown as ConfigReader;
  return { admin, calls };
}

const log = pino({ level: 'silent' });

describe('TopicLimits', () => {
  it("reads a topic's max.message.bytes once and keeps it until forget()", async () => {
    const { admin, calls } = reader({ dlq: '2097152' }, { 1: '1048588' });
    const limits = new TopicLimits(admin, log);
    expect(limits.known('dlq')).toBeUndefined();
    expect(await limits.maxMessageBytes('dlq')).toBe(2_097_152);
    expect(await limits.maxMessageBytes('dlq')).toBe(2_097_152);
    expect(limits.known('dlq')).toBe(2_097_152);
    expect(calls).toHaveLength(1);
    limits.forget();
    await limits.maxMessageBytes('dlq');
    expect(calls).toHaveLength(2);
  });

  it("falls back to the smallest broker message.max.bytes for a topic not created yet", async () => {
    const { admin } = reader({}, { 1: '3000000', 2: '1500000' });
    expect(await new TopicLimits(admin, log).maxMessageBytes('later')).toBe(1_500_000);
  });

  it.each(['TOPIC_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED'])('assumes the Kafka default where reading configs is refused with %s', async (type) => {
    const { admin } = reader({}, {}, { type });
    expect(await new TopicLimits(admin, log).maxMessageBytes('dlq')).toBe(KAFKA_DEFAULT_MAX_MESSAGE_BYTES);
  });

  it('assumes the Kafka default where the broker fallback is refused', async () => {
    const { admin } = reader({}, { 1: '1048588' });
    const refusing = { ...admin, describeConfigs: (q: { resources: Resource[] }) => (q.resources[0].type === ConfigResourceTypes.BROKER ? Promise.reject(Object.assign(new Error('no'), { type: 'CLUSTER_AUTHORIZATION_FAILED' })) : admin.describeConfigs(q as never)) } as ConfigReader;
    expect(await new TopicLimits(refusing, log).maxMessageBytes('later')).toBe(KAFKA_DEFAULT_MAX_MESSAGE_BYTES);
  });

  it('does not keep a failed read, and refuses a value that is no limit', async () => {
    const { admin, calls } = reader({ dlq: 'lots' }, {});
    const limits = new TopicLimits(admin, log);
    await expect(limits.maxMessageBytes('dlq')).rejects.toThrow('topic "dlq" max.message.bytes is not a usable record size limit: "lots"');
    await expect(limits.maxMessageBytes('dlq')).rejects.toThrow();
    expect(calls).toHaveLength(2);
  });
});
