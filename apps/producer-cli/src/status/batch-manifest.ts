// A batch's manifest: the last record keyed by its id on the (compacted) batches topic, read to its end.
import { BatchManifestSchemas, type BatchManifest } from '@sluice/schema';
import type { Kafka } from 'kafkajs';
import { codecFor } from '../kafka/client';
import { readTopicToEnd, type ReadOptions } from '../kafka/read-topic';
import type { KafkaSettings } from '../kafka/settings';

/** The latest manifest of `batchId`, or null (none, or a tombstone); `unreadable` hears of records that do not decode. */
export async function readBatchManifest(
  kafka: Kafka,
  settings: KafkaSettings,
  batchId: string,
  options: ReadOptions,
  unreadable: (offset: string, err: unknown) => void,
): Promise<BatchManifest | null> {
  let manifest: BatchManifest | null = null;
  const codec = codecFor(settings, BatchManifestSchemas, settings.topics.batches);
  await readTopicToEnd(kafka, settings.topics.batches, async ({ message }) => {
    if (message.key?.toString() !== batchId) return;
    if (!message.value) {
      manifest = null;
      return;
    }
    try {
      manifest = await codec.decode(message.value);
    } catch (err) {
      unreadable(message.offset, err);
    }
  }, options);
  return manifest;
}
