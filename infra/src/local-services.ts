import type { Logger } from 'pino';
import { HOST, SERVICE_NAMES, resolveConfig, type LocalConfig, type LocalConfigOverrides, type ServiceName } from './config';
import { ensureInstalled } from './installer';
import { kafkaService, localKafkaTls, type LocalKafkaTls } from './kafka';
import { defaultLogger } from './logger';
import { localS3Config, s3Service, type LocalS3Config } from './s3proxy';
import { assertPortsFree, launchService, serviceStatus, stopService, type ServiceSpec, type ServiceStatus } from './service';

export interface LocalServicesOptions extends LocalConfigOverrides {
  /** Which services; both by default. */
  services?: readonly ServiceName[];
  logger?: Logger;
  /** Environment to read SLUICE_* settings from; process.env by default. */
  env?: NodeJS.ProcessEnv;
}

export interface LocalServices {
  /** kafkajs `brokers`. */
  brokers: string[];
  /** The TLS and mutual-TLS listeners and the PEM files to reach them with (kafkajs `ssl`: `{ ca, cert, key }` read from them). */
  kafkaTls: LocalKafkaTls;
  /** `new S3Client(s3)` talks to the local S3 server. */
  s3: LocalS3Config;
  dataDir: string;
  /** Services this call launched; the others were already running and are left alone by stop(). */
  started: ServiceName[];
  statuses: ServiceStatus[];
  /** Stops only what this call started. */
  stop(): Promise<void>;
}

export interface StopResult {
  name: ServiceName;
  /** Pid of the process that was stopped; undefined when none was running. */
  stoppedPid?: number;
}

function specsFor(config: LocalConfig, names: readonly ServiceName[]): ServiceSpec[] {
  return SERVICE_NAMES.filter((n) => names.includes(n)).map((n) => (n === 'kafka' ? kafkaService(config) : s3Service(config)));
}

function setup(options: LocalServicesOptions) {
  const { services = SERVICE_NAMES, logger, env = process.env, ...overrides } = options;
  const config = resolveConfig(overrides, env);
  return { config, specs: specsFor(config, services), logger: logger ?? defaultLogger(env) };
}

async function stopSpecs(specs: ServiceSpec[], logger: Logger): Promise<StopResult[]> {
  const results: StopResult[] = [];
  for (const spec of specs) {
    const { pid } = serviceStatus(spec);
    results.push({ name: spec.name, stoppedPid: (await stopService(spec, logger)) ? pid : undefined });
  }
  return results;
}

/**
 * Starts the local Kafka broker and/or S3 server unless already running, waits until each answers real requests,
 * and returns how to reach them. Fails with a LocalServiceError (bad setting, missing java/mvn, port in use, start failure);
 * on failure nothing this call launched is left running.
 */
export async function startLocalServices(options: LocalServicesOptions = {}): Promise<LocalServices> {
  const { config, specs, logger } = setup(options);
  const toStart = specs.filter((spec) => !serviceStatus(spec).running);
  for (const spec of toStart) await assertPortsFree(spec);
  const started: ServiceSpec[] = [];
  if (toStart.length > 0) {
    const runtime = await ensureInstalled(
      toStart.map((s) => s.name),
      config,
      logger,
    );
    const results = await Promise.allSettled(
      toStart.map(async (spec) => {
        await launchService(spec, runtime, config.startTimeoutMs, logger);
        started.push(spec);
      }),
    );
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) {
      await stopSpecs(started, logger);
      throw failure.reason;
    }
  }
  return {
    brokers: [`${HOST}:${config.kafkaPort}`],
    kafkaTls: localKafkaTls(config),
    s3: localS3Config(config.s3Port),
    dataDir: config.dataDir,
    started: started.map((s) => s.name),
    statuses: specs.map(serviceStatus),
    stop: async () => {
      await stopSpecs(started, logger);
    },
  };
}

/** Stops the services recorded under the data dir (only processes started from it, found by pid file). */
export function stopLocalServices(options: LocalServicesOptions = {}): Promise<StopResult[]> {
  const { specs, logger } = setup(options);
  return stopSpecs(specs, logger);
}

export function localServicesStatus(options: LocalServicesOptions = {}): ServiceStatus[] {
  return setup(options).specs.map(serviceStatus);
}
