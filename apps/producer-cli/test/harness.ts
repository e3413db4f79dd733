// This suite's own Kafka and S3 (ports 49092/49093/49000, SLUICE_CLI_TEST_* to change), apart from every other suite.
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localS3Config, resolveConfig, type LocalConfig } from '@sluice/infra';

export function testSettings(env: NodeJS.ProcessEnv = process.env): LocalConfig {
  return resolveConfig({}, {
    SLUICE_KAFKA_PORT: env.SLUICE_CLI_TEST_KAFKA_PORT || '49092',
    SLUICE_KAFKA_CONTROLLER_PORT: env.SLUICE_CLI_TEST_KAFKA_CONTROLLER_PORT || '49093',
    SLUICE_S3_PORT: env.SLUICE_CLI_TEST_S3_PORT || '49000',
    SLUICE_DATA_DIR: env.SLUICE_CLI_TEST_DATA_DIR || join(tmpdir(), 'sluice-producer-cli-test'),
    SLUICE_CACHE_DIR: env.SLUICE_CACHE_DIR,
    SLUICE_START_TIMEOUT_MS: env.SLUICE_START_TIMEOUT_MS,
  });
}

export function brokers(): string {
  return `127.0.0.1:${testSettings().kafkaPort}`;
}

export function s3(): ReturnType<typeof localS3Config> {
  return localS3Config(testSettings().s3Port);
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

const MAIN = join(__dirname, '..', 'dist', 'main.js');

/** Runs the built `sluice` binary as a user would, against this suite's broker unless told otherwise. */
export function sluice(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { env: { ...process.env, SLUICE_KAFKA_BROKERS: brokers(), ...env }, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
