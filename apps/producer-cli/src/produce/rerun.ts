// Re-runs: a batch id that already has a manifest is produced again only on purpose (--rerun).
import type { Kafka } from 'kafkajs';
import { CliError, EXIT } from '../errors';
import { serviceError } from '../kafka/client';
import type { KafkaSettings } from '../kafka/settings';
import { logger } from '../logger';
import { readBatchManifest } from '../status/batch-manifest';

const READ_TIMEOUT_MS = 60_000;

/** Throws a usage error, saying when and with how many jobs, if `batchId` has a manifest on the batches topic. */
export async function refuseExistingBatch(kafka: Kafka, settings: KafkaSettings, batchId: string, signal?: AbortSignal): Promise<void> {
  const topic = settings.topics.batches;
  let manifest;
  try {
    manifest = await readBatchManifest(kafka, settings, batchId, { timeoutMs: READ_TIMEOUT_MS, signal }, (offset, err) => {
      logger.warn({ batch_id: batchId, topic, offset, err: (err as Error).message }, 'batch manifest not decodable; ignored');
    });
  } catch (err) {
    throw serviceError(`reading ${topic} for an earlier run of batch ${batchId}`, settings, err);
  }
  if (!manifest) return;
  const when = new Date(manifest.completed_at).toISOString();
  throw new CliError(
    EXIT.USAGE,
    `batch ${batchId} was already produced at ${when} with ${manifest.job_count} jobs (from ${manifest.source}); --rerun produces it again (jobs keep their first committed success, failed ones are retried), or choose another --batch-id`,
  );
}
