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
  return wanted.map((t) => t.topic);
}
