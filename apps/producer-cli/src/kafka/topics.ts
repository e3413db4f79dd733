// --create-topics: the four topics, created if missing; existing ones are left as they are.
import type { Admin } from 'kafkajs';
import type { KafkaSettings } from './settings';

export interface TopicLayout {
  partitions: number;
  replicationFactor: number;
}

export async function ensureTopics(admin: Admin, settings: KafkaSettings, layout: TopicLayout): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const { jobs, results, dlq, batches } = settings.topics;
  const wanted = [
    { topic: jobs, numPartitions: layout.partitions, replicationFactor: layout.replicationFactor },
    { topic: results, numPartitions: layout.partitions, replicationFactor: layout.replicationFactor },
    { topic: dlq, numPartitions: 1, replicationFactor: layout.replicationFactor },
    // One manifest per batch id, the latest kept: compaction bounds the topic by the number of batches.
    { topic: batches, numPartitions: 1, replicationFactor: layout.replicationFactor, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
  ].filter((t) => !existing.has(t.topic));
  if (wanted.length) await admin.createTopics({ topics: wanted, waitForLeaders: true });
  const created = wanted.map((t) => t.topic);
  await untilServed(admin, created);
  return created;
}

// The controller has the new topics before the broker serves them: first their metadata, then their leadership. With
// topic auto-creation off, a reader that comes too soon gets "does not host this topic-partition" or "not the leader
// for that topic-partition" (kafkajs's admin does not retry either), so wait (bounded) until offsets are served.
const NOT_SERVED_YET = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE', 'NOT_LEADER_FOR_PARTITION']);

async function untilServed(admin: Admin, topics: string[], timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await admin.fetchTopicMetadata({ topics });
      for (const topic of topics) await admin.fetchTopicOffsets(topic);
      return;
    } catch (err) {
      if (!NOT_SERVED_YET.has((err as { type?: string }).type ?? '') || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
