import type { Kafka } from 'kafkajs';
import { kafkaErrorChain, kafkaTlsFailure } from '@sluice/schema';
import { settingLabel, type ConsumerConfig } from '../config';
import { ConfigError } from '../errors';
import type { ObjectStore } from '../export/object-store';

const TOPIC_KEYS = ['jobsTopic', 'resultsTopic', 'dlqTopic'] as const;

/**
 * Checks what the worker needs before it loads a model or joins the group: the brokers answer, the three topics
 * exist (the worker never creates one, nor lets the broker auto-create it) and the export target can be written.
 * Throws a ConfigError naming the setting and what is wrong, so the start fails in one line instead of retrying forever.
 */
export async function preflight(config: ConsumerConfig, kafka: Kafka, store: ObjectStore | undefined): Promise<void> {
  await checkTopics(config, kafka);
  if (store) await checkStore(config, store);
}

/** A SASL or TLS authentication failure anywhere in kafkajs's chain of causes. */
function isAuthFailure(err: unknown): boolean {
  for (const e of kafkaErrorChain(err)) if (/SASL|Authentication/i.test(`${e.name ?? ''} ${e.message ?? ''}`)) return true;
  return false;
}

async function checkTopics(config: ConsumerConfig, kafka: Kafka): Promise<void> {
  const admin = kafka.admin({ retry: { retries: 2 } });
  let existing: string[];
  try {
    await admin.connect();
    existing = await admin.listTopics();
  } catch (err) {
    // Refused credentials are the fatal error they always were (logged, exit 1), not an unreachable broker.
    if (isAuthFailure(err)) throw err;
    // A TLS failure names the TLS setting to fix, not the brokers.
    const tls = kafkaTlsFailure(err);
    if (tls) throw new ConfigError(settingLabel(tls.setting)!, `${tls.reason} (Kafka at ${config.brokers.join(',')}: ${(err as Error).message.trim()})`);
    throw new ConfigError(settingLabel('brokers')!, `cannot reach Kafka at ${config.brokers.join(',')}: ${(err as Error).message}`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  for (const key of TOPIC_KEYS) {
    const topic = config[key];
    if (!existing.includes(topic)) throw new ConfigError(settingLabel(key)!, `topic "${topic}" does not exist on ${config.brokers.join(',')}; create it first (sluice produce --create-topics does)`);
  }
}

const STORE_KEYS = { bucket: 's3Bucket', endpoint: 's3Endpoint', dir: 'exportDir' } as const;

async function checkStore(config: ConsumerConfig, store: ObjectStore): Promise<void> {
  const problem = await store.check();
  if (!problem) return;
  const target = config.export;
  const where = target.kind === 's3' ? ` at ${target.endpoint ?? 'the AWS endpoint'}` : '';
  throw new ConfigError(settingLabel(STORE_KEYS[problem.part])!, `${problem.message}${where}`);
}
