// Drives the real CLI (node local/sluice-local.mjs) against real Kafka and S3Proxy processes.
// Ports differ from the e2e harness (19xxx) and the defaults (9092/9000) so suites and a user's services never collide.
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kafkaAnswers, localKafkaTls, localS3Config, resolveConfig, s3Answers, startLocalServices } from '../src';

const CLI = join(__dirname, '..', 'local', 'sluice-local.mjs');
const PORTS = { kafkaPort: 29092, kafkaControllerPort: 29093, s3Port: 29000 };
const dataDir = join(tmpdir(), 'sluice-infra-test');
const env = {
  ...process.env,
  SLUICE_KAFKA_PORT: String(PORTS.kafkaPort),
  SLUICE_KAFKA_CONTROLLER_PORT: String(PORTS.kafkaControllerPort),
  SLUICE_S3_PORT: String(PORTS.s3Port),
  SLUICE_DATA_DIR: dataDir,
};
const brokers = [`127.0.0.1:${PORTS.kafkaPort}`];
const tls = localKafkaTls(resolveConfig({ ...PORTS, dataDir }, {}));
const pem = (path: string) => readFileSync(path);
const s3 = localS3Config(PORTS.s3Port);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

function occupy(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

jest.setTimeout(300_000);

beforeAll(async () => {
  // Leftovers of an interrupted run are found through their pid files, then the data dir starts fresh.
  await cli('stop');
  rmSync(dataDir, { recursive: true, force: true });
});

afterAll(async () => {
  await cli('stop');
});

describe('sluice-local start/status/stop', () => {
  it('starts both services, and a second start is a successful no-op', async () => {
    const first = await cli('start');
    expect(first).toMatchObject({ code: 0 });
    expect(first.stdout).toMatch(/^started: kafka: running \(pid \d+\), broker port 29092, controller port 29093, tls port 29094, mtls port 29095; logs .*kafka\.log/m);
    expect(first.stdout).toMatch(/^started: s3: running \(pid \d+\), http port 29000; logs .*s3proxy\.log/m);
    expect(first.stdout).toContain('kafka brokers: 127.0.0.1:29092');
    expect(first.stdout).toContain(`kafka TLS brokers: 127.0.0.1:29094 (trust CA ${dataDir}/kafka/tls/ca.pem)`);
    expect(first.stdout).toContain(
      `kafka mutual-TLS brokers: 127.0.0.1:29095 (trust CA ${dataDir}/kafka/tls/ca.pem; client cert ${dataDir}/kafka/tls/client.pem, key ${dataDir}/kafka/tls/client.key)`,
    );
    expect(first.stdout).toContain('s3 endpoint: http://127.0.0.1:29000');
    await expect(kafkaAnswers(brokers)).resolves.toBe(true);
    await expect(s3Answers(s3)).resolves.toBe(true);

    const second = await cli('start');
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/^already running: kafka: running/m);
    expect(second.stdout).toMatch(/^already running: s3: running/m);
    const pids = (out: string) => [...out.matchAll(/pid (\d+)/g)].map((m) => m[1]);
    expect(pids(second.stdout)).toEqual(pids(first.stdout));
  });

  it('reports each running service with pid, ports and log file', async () => {
    const status = await cli('status');
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`^kafka: running \\(pid \\d+\\), broker port 29092, controller port 29093, tls port 29094, mtls port 29095; logs ${dataDir}/kafka/kafka\\.log`, 'm'));
    expect(status.stdout).toMatch(/^kafka TLS brokers: 127\.0\.0\.1:29094 \(trust CA .*\/kafka\/tls\/ca\.pem\)$/m);
    expect(status.stdout).toMatch(/^kafka mutual-TLS brokers: 127\.0\.0\.1:29095 \(trust CA .*; client cert .*\/client\.pem, key .*\/client\.key\)$/m);
    expect(status.stdout).toMatch(new RegExp(`^s3: running \\(pid \\d+\\), http port 29000; logs ${dataDir}/s3/s3proxy\\.log`, 'm'));
  });

  it('serves TLS with the CA, and mutual TLS only to a client presenting the client certificate', async () => {
    const ca = pem(tls.ca);
    await expect(kafkaAnswers(tls.brokers, { ca })).resolves.toBe(true);
    await expect(kafkaAnswers(tls.mtlsBrokers, { ca, cert: pem(tls.cert), key: pem(tls.key) })).resolves.toBe(true);
    // The system CAs do not know the local CA, and the mutual-TLS listener turns away a client without a certificate.
    await expect(kafkaAnswers(tls.brokers, {})).resolves.toBe(false);
    await expect(kafkaAnswers(tls.mtlsBrokers, { ca })).resolves.toBe(false);
    // The plaintext listener is unchanged: TLS on it fails, plaintext works.
    await expect(kafkaAnswers(brokers, { ca })).resolves.toBe(false);
  });

  it('leaves running services alone when the API finds them already up', async () => {
    const local = await startLocalServices({ ...PORTS, dataDir });
    expect(local.started).toEqual([]);
    expect(local.brokers).toEqual(brokers);
    expect(local.kafkaTls).toEqual(tls);
    await local.stop();
    await expect(kafkaAnswers(brokers)).resolves.toBe(true);
    await expect(s3Answers(s3)).resolves.toBe(true);
  });

  it('stops what it started, and a second stop says nothing is running', async () => {
    const first = await cli('stop');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^kafka: stopped \(pid \d+\)$/m);
    expect(first.stdout).toMatch(/^s3: stopped \(pid \d+\)$/m);
    await expect(kafkaAnswers(brokers)).resolves.toBe(false);
    await expect(s3Answers(s3)).resolves.toBe(false);

    const second = await cli('stop');
    expect(second.code).toBe(0);
    expect(second.stdout).toBe('kafka: not running\ns3: not running\n');

    const status = await cli('status');
    expect(status.stdout).toMatch(/^kafka: stopped/m);
    expect(status.stdout).toMatch(/^s3: stopped/m);
  });

  it('restarts on the data it kept, with the same CA', async () => {
    const ca = pem(tls.ca);
    const start = await cli('start', 'kafka');
    expect(start.code).toBe(0);
    expect(start.stdout).toMatch(/^started: kafka: running/m);
    expect(start.stderr).not.toContain('formatting Kafka storage');
    await expect(kafkaAnswers(brokers)).resolves.toBe(true);
    expect(pem(tls.ca).equals(ca)).toBe(true);
    await expect(kafkaAnswers(tls.mtlsBrokers, { ca, cert: pem(tls.cert), key: pem(tls.key) })).resolves.toBe(true);
    expect((await cli('stop', 'kafka')).stdout).toMatch(/^kafka: stopped \(pid \d+\)$/m);
  });

  it('refuses to start on a taken port with one sentence saying what to change', async () => {
    const blocker = await occupy(PORTS.s3Port);
    try {
      const start = await cli('start', 's3');
      expect(start.code).toBe(1);
      expect(start.stderr.trim()).toBe(
        'sluice-local: Cannot start S3Proxy (http): port 29000 on 127.0.0.1 is already in use by another process; stop that process or set SLUICE_S3_PORT to a free port.',
      );
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
    expect((await cli('status', 's3')).stdout).toMatch(/^s3: stopped/m);
  });

  it('rejects a bad setting and an unknown command', async () => {
    const bad = await new Promise<Run>((resolve) =>
      execFile(process.execPath, [CLI, 'status'], { env: { ...env, SLUICE_KAFKA_PORT: 'ninety' } }, (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
      ),
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('SLUICE_KAFKA_PORT="ninety" is not valid');
    const usage = await cli('restart');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('usage: sluice-local <start|stop|status|install>');
  });
});
