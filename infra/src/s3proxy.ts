import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { HOST, S3_CREDENTIALS, S3_REGION, type LocalConfig } from './config';
import type { ServiceSpec } from './service';

/** Connection settings for @aws-sdk/client-s3: `new S3Client(s3)` works as is (path-style, SigV4). */
export interface LocalS3Config {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  forcePathStyle: true;
}

export function localS3Config(port: number): LocalS3Config {
  return { endpoint: `http://${HOST}:${port}`, region: S3_REGION, credentials: { ...S3_CREDENTIALS }, forcePathStyle: true };
}

/** S3Proxy settings: filesystem-nio2 backend (buckets are directories), fixed local identity, path-style only. */
export function s3ProxyProperties(port: number, blobDir: string): string {
  const settings: Record<string, string> = {
    's3proxy.endpoint': `http://${HOST}:${port}`,
    's3proxy.authorization': 'aws-v2-or-v4',
    's3proxy.identity': S3_CREDENTIALS.accessKeyId,
    's3proxy.credential': S3_CREDENTIALS.secretAccessKey,
    // Current AWS SDKs send x-amz-checksum-* headers S3Proxy does not know; it would answer 501 without this.
    's3proxy.ignore-unknown-headers': 'true',
    'jclouds.provider': 'filesystem-nio2',
    'jclouds.filesystem.basedir': blobDir,
  };
  return `${Object.entries(settings)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;
}

// Without a config logback logs everything at DEBUG, megabytes per request.
const LOGBACK_XML = `<configuration>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level %logger{36} - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="STDOUT"/></root>
</configuration>
`;

/** One ListBuckets call, signed like any client's: true once S3Proxy answers it. */
export async function s3Answers(config: LocalS3Config): Promise<boolean> {
  const client = new S3Client({ ...config, maxAttempts: 1, requestHandler: { connectionTimeout: 1000, requestTimeout: 3000 } });
  try {
    await client.send(new ListBucketsCommand({}));
    return true;
  } catch {
    // Not up yet: the caller polls until its deadline.
    return false;
  } finally {
    client.destroy();
  }
}

export function s3Service(config: LocalConfig): ServiceSpec {
  const dir = join(config.dataDir, 's3');
  const properties = join(dir, 's3proxy.conf');
  const logback = join(dir, 'logback.xml');
  const blobDir = join(dir, 'blobs');
  return {
    name: 's3',
    label: 'S3Proxy',
    host: HOST,
    dir,
    pidFile: join(dir, 's3proxy.pid'),
    logFile: join(dir, 's3proxy.log'),
    marker: properties,
    ports: [{ role: 'http', port: config.s3Port, setting: 'SLUICE_S3_PORT' }],
    async prepare() {
      mkdirSync(blobDir, { recursive: true });
      writeFileSync(properties, s3ProxyProperties(config.s3Port, blobDir));
      writeFileSync(logback, LOGBACK_XML);
    },
    command: (runtime) => ({
      command: runtime.java,
      args: ['-Xms64m', '-Xmx256m', '-XX:+UseSerialGC', '-Djava.awt.headless=true', `-Dlogback.configurationFile=${logback}`, '-cp', runtime.classpath.s3 ?? '', 'org.gaul.s3proxy.Main', '--properties', properties],
    }),
    probe: () => s3Answers(localS3Config(config.s3Port)),
  };
}
