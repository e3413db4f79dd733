#!/usr/bin/env node
import { S3Client } from '@aws-sdk/client-s3';
import type { Logger } from 'pino';
import { resolveConfig, type ConsumerConfig } from './config';
import { createEngine } from './engine/create-engine';
import { ConfigError } from './errors';
import { Exporter } from './export/exporter';
import { FileObjectStore } from './export/file-store';
import type { ObjectStore } from './export/object-store';
import { S3ObjectStore } from './export/s3-store';
import { createKafka } from './kafka/kafka-client';
import { startHttpServer } from './observability/http-server';
import { createLogger } from './observability/logger';
import { publicConfig } from './observability/public-config';
import { WorkerMetrics } from './observability/metrics';
import { preflight } from './startup/preflight';
import { Worker } from './worker';

function objectStore(config: ConsumerConfig): ObjectStore | undefined {
  const t = config.export;
  if (t.kind === 'off') return undefined;
  if (t.kind === 'file') return new FileObjectStore(t.dir);
  // Credentials and (unless given) the region come from the AWS default provider chain.
  const client = new S3Client({ endpoint: t.endpoint, region: t.region ?? process.env.AWS_REGION ?? 'us-east-1', forcePathStyle: t.forcePathStyle });
  return new S3ObjectStore(client, { bucket: t.bucket, multipartThreshold: config.multipartThresholdBytes });
}

async function run(config: ConsumerConfig, log: Logger): Promise<number> {
  const metrics = new WorkerMetrics();
  const store = objectStore(config);
  const kafka = createKafka(config, log);
  // Before the model loads: a missing topic or bucket fails the start in one line, at once.
  await preflight(config, kafka, store);
  const engine = await createEngine(config, log.child({ component: 'engine' }));
  const exporter = store
    ? new Exporter(store, { prefix: config.exportPrefix, format: config.exportFormat, workerId: config.workerId, retry: { attempts: 6, baseDelayMs: 200, maxDelayMs: 10_000 } }, log.child({ component: 'export' }))
    : undefined;
  const worker = new Worker({ config, kafka, engine, exporter, metrics, log });
  let stopping: Promise<number> | undefined;
  let drained = false;
  let onStopped: (code: number) => void = () => undefined;
  const stopped = new Promise<number>((resolve) => (onStopped = resolve));
  // One drain, whoever asks first: a signal or the preStop hook's POST /drain.
  const drain = (by: string): Promise<number> => {
    if (!stopping) {
      log.info({ by }, 'stop requested: draining');
      stopping = worker.stop().then(
        () => 0,
        (err: Error) => (log.error({ err }, 'drain failed'), 1),
      );
      void stopping.then((code) => ((drained = true), onStopped(code)));
    }
    return stopping;
  };
  const stop = (signal: NodeJS.Signals) => {
    if (drained) return; // drained already (by /drain): the process is on its way out with the drain's exit code
    if (stopping) {
      // Second signal: leave at once; nothing unfinished is committed, so the jobs are redelivered.
      log.warn({ signal }, 'second signal: exiting without committing unfinished work');
      process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    }
    void drain(signal);
  };
  const probes = {
    healthy: () => worker.healthy,
    notReady: () => worker.notReady(),
    drain: () => drain('POST /drain').then((code) => (code === 0 ? undefined : Promise.reject(new Error('the drain failed; see the worker log')))),
  };
  const http = await startHttpServer(metrics.registry, probes, { port: config.metricsPort, host: config.metricsHost, drainEndpoint: config.drainEndpoint });
  log.info({ config: publicConfig(config), metrics_port: http.port, export: exporter?.location ?? 'off' }, 'sluice-consumer starting');

  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  await worker.start();
  const outcome = await Promise.race([worker.crashed.then(() => 1), stopped]);
  await engine.shutdown();
  http.server.close();
  return outcome;
}

async function main(): Promise<void> {
  // Node 20 is supported: the AWS SDK's nine-line notice about its future Node 22 floor is off unless asked for.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  let config: ConsumerConfig;
  try {
    config = resolveConfig(process.argv.slice(2));
  } catch (err) {
    const e = err as { code?: string };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version') {
      process.exit(0);
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`sluice-consumer: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel, config.workerId, undefined, config.logFormat);
  try {
    process.exitCode = await run(config, log);
  } catch (err) {
    if (err instanceof ConfigError) process.stderr.write(`sluice-consumer: ${err.message}\n`);
    else log.fatal({ err }, 'sluice-consumer failed');
    process.exitCode = err instanceof ConfigError ? 2 : 1;
  }
  // kafkajs and the SDK keep sockets around; the exit code is final here.
  setTimeout(() => process.exit(process.exitCode), 100).unref();
}

void main();
