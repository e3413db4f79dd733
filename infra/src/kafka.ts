import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { Kafka, logLevel } from 'kafkajs';
import type { Logger } from 'pino';
import { HOST, type LocalConfig } from './config';
import { LocalServiceError } from './errors';
import type { InstalledRuntime } from './installer';
import { runLogged, tail } from './process-control';
import type { ServiceSpec } from './service';
import { SERVER_KEY_PASSWORD, ensureTlsFiles, tlsFiles, type TlsFiles } from './tls';

const NODE_ID = 1;

/** How to reach the local Kafka over TLS: bootstrap lists and PEM file paths (CA, client certificate and key). */
export interface LocalKafkaTls {
  /** Server-authenticated listener: trust `ca`. */
  brokers: string[];
  /** Listener that requires a client certificate signed by `ca`: present `cert` and `key`. */
  mtlsBrokers: string[];
  ca: string;
  cert: string;
  key: string;
}

const kafkaDir = (config: LocalConfig) => join(config.dataDir, 'kafka');
const tlsDir = (config: LocalConfig) => join(kafkaDir(config), 'tls');

/** Where a local Kafka with these settings listens for TLS and keeps its PEM files (made at its first start). */
export function localKafkaTls(config: LocalConfig): LocalKafkaTls {
  const files = tlsFiles(tlsDir(config));
  return { brokers: [`${HOST}:${config.kafkaTlsPort}`], mtlsBrokers: [`${HOST}:${config.kafkaMtlsPort}`], ca: files.ca, cert: files.clientCert, key: files.clientKey };
}

/**
 * Combined broker+controller on loopback, sized for one machine: every internal topic has one replica and one partition.
 * Clients have three listeners: PLAINTEXT, SSL (server certificate only) and MTLS (SSL that requires a client certificate).
 */
export function kafkaServerProperties(config: LocalConfig, logDir: string, tls: TlsFiles): string {
  const settings: Record<string, string | number> = {
    'process.roles': 'broker,controller',
    'node.id': NODE_ID,
    // A static voter set (not --standalone) keeps working if the controller port changes between runs.
    'controller.quorum.voters': `${NODE_ID}@${HOST}:${config.kafkaControllerPort}`,
    listeners: `PLAINTEXT://${HOST}:${config.kafkaPort},CONTROLLER://${HOST}:${config.kafkaControllerPort},SSL://${HOST}:${config.kafkaTlsPort},MTLS://${HOST}:${config.kafkaMtlsPort}`,
    'advertised.listeners': `PLAINTEXT://${HOST}:${config.kafkaPort},SSL://${HOST}:${config.kafkaTlsPort},MTLS://${HOST}:${config.kafkaMtlsPort}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,MTLS:SSL',
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.location': tls.serverKeystore,
    'ssl.key.password': SERVER_KEY_PASSWORD,
    'ssl.truststore.type': 'PEM',
    'ssl.truststore.location': tls.ca,
    'ssl.client.auth': 'none',
    'listener.name.mtls.ssl.client.auth': 'required',
    'log.dirs': logDir,
    'num.partitions': 1,
    'offsets.topic.replication.factor': 1,
    'offsets.topic.num.partitions': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 1,
    'share.coordinator.state.topic.replication.factor': 1,
    'share.coordinator.state.topic.min.isr': 1,
    'group.initial.rebalance.delay.ms': 0,
  };
  return `${Object.entries(settings)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;
}

const LOG4J2_PROPERTIES = `# Everything to stdout, which sluice-local appends to kafka.log.
status = warn
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
# Config dumps run to thousands of lines per start.
logger.config.name = org.apache.kafka.common.config
logger.config.level = WARN
`;

/** A Kafka cluster id: 16 random bytes, URL-safe base64 without padding, never starting with '-' (the CLI would read it as a flag). */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/**
 * One readiness attempt through kafkajs, true once the broker serves what Sluice uses: metadata, consumer groups
 * (creating and loading __consumer_offsets) and transactional producer ids (creating __transaction_state).
 */
export async function kafkaAnswers(brokers: string[], ssl?: ConnectionOptions): Promise<boolean> {
  const kafka = new Kafka({
    clientId: 'sluice-local-probe',
    brokers,
    ssl,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 3000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  // Idempotent producers refuse to run without retries; a short budget keeps one attempt quick.
  const producer = kafka.producer({ transactionalId: 'sluice-local-probe', idempotent: true, maxInFlightRequests: 1, retry: { retries: 1, maxRetryTime: 500 } });
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    await admin.describeGroups(['sluice-local-probe']);
    await producer.connect();
    return cluster.brokers.length > 0 && cluster.controller !== null;
  } catch {
    // Not up yet: the caller polls until its deadline.
    return false;
  } finally {
    await producer.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
}

export function kafkaService(config: LocalConfig): ServiceSpec {
  const dir = kafkaDir(config);
  const tls = localKafkaTls(config);
  const serverProperties = join(dir, 'server.properties');
  const log4j = join(dir, 'log4j2.properties');
  const logDir = join(dir, 'data');
  const logFile = join(dir, 'kafka.log');
  const brokers = [`${HOST}:${config.kafkaPort}`];
  const jvm = (runtime: InstalledRuntime, heap: string) => [heap, '-XX:+UseSerialGC', '-Djava.awt.headless=true', `-Dlog4j2.configurationFile=${log4j}`, '-cp', runtime.classpath.kafka ?? ''];
  return {
    name: 'kafka',
    label: 'Kafka',
    host: HOST,
    dir,
    pidFile: join(dir, 'kafka.pid'),
    logFile,
    marker: serverProperties,
    ports: [
      { role: 'broker', port: config.kafkaPort, setting: 'SLUICE_KAFKA_PORT' },
      { role: 'controller', port: config.kafkaControllerPort, setting: 'SLUICE_KAFKA_CONTROLLER_PORT' },
      { role: 'tls', port: config.kafkaTlsPort, setting: 'SLUICE_KAFKA_TLS_PORT' },
      { role: 'mtls', port: config.kafkaMtlsPort, setting: 'SLUICE_KAFKA_MTLS_PORT' },
    ],
    async prepare(runtime: InstalledRuntime, logger: Logger) {
      const files = await ensureTlsFiles(tlsDir(config));
      writeFileSync(serverProperties, kafkaServerProperties(config, logDir, files));
      writeFileSync(log4j, LOG4J2_PROPERTIES);
      if (existsSync(join(logDir, 'meta.properties'))) return;
      logger.info({ service: 'kafka', logDir }, 'formatting Kafka storage (first start in this data dir)');
      const args = [...jvm(runtime, '-Xmx256m'), 'kafka.tools.StorageTool', 'format', '--ignore-formatted', '-t', newClusterId(), '-c', serverProperties];
      const code = await runLogged(runtime.java, args, { cwd: dir, logFile, timeoutMs: 120_000 });
      if (code !== 0) {
        throw new LocalServiceError('START_FAILED', `Formatting Kafka storage in ${logDir} failed (exit ${code}); last log lines (${logFile}):\n${tail(logFile, 25)}`);
      }
    },
    command: (runtime) => ({ command: runtime.java, args: [...jvm(runtime, '-Xmx512m'), '-Xms128m', 'kafka.Kafka', serverProperties] }),
    // Every listener must serve, each with what its clients present.
    probe: async () =>
      (await kafkaAnswers(brokers)) &&
      (await kafkaAnswers(tls.brokers, { ca: readFileSync(tls.ca) })) &&
      (await kafkaAnswers(tls.mtlsBrokers, { ca: readFileSync(tls.ca), cert: readFileSync(tls.cert), key: readFileSync(tls.key) })),
  };
}
