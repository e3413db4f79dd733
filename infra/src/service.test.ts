import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { InstalledRuntime } from './installer';
import { isOurProcess, readPidRecord } from './process-control';
import { launchService, serviceStatus, stopService, type ServiceSpec } from './service';

const logger = pino({ level: 'silent' });
const runtime: InstalledRuntime = { java: 'java', javaVersion: '17', classpath: {} };

/** A stand-in service: a node process whose command line carries the marker, with a scripted readiness probe. */
function fakeSpec(script: string, probe: () => Promise<boolean>): ServiceSpec {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-service-'));
  const marker = join(dir, 'fake.conf');
  return {
    name: 's3',
    label: 'Fake',
    host: '127.0.0.1',
    dir,
    pidFile: join(dir, 'fake.pid'),
    logFile: join(dir, 'fake.log'),
    marker,
    ports: [{ role: 'http', port: 1, setting: 'FAKE_PORT' }],
    prepare: async () => undefined,
    command: () => ({ command: process.execPath, args: ['-e', script, marker] }),
    probe,
  };
}

describe('launchService', () => {
  it('records the pid, reports running, and stops exactly that process', async () => {
    const spec = fakeSpec('setInterval(() => {}, 1000)', async () => true);
    const status = await launchService(spec, runtime, 10_000, logger);
    expect(status).toMatchObject({ running: true, ports: { http: 1 } });
    expect(readPidRecord(spec.pidFile)).toMatchObject({ pid: status.pid, marker: spec.marker });
    await expect(stopService(spec, logger)).resolves.toBe(true);
    expect(isOurProcess(status.pid as number, spec.marker)).toBe(false);
    expect(serviceStatus(spec).running).toBe(false);
    await expect(stopService(spec, logger)).resolves.toBe(false);
  });

  it('fails with START_FAILED and the log tail when the process exits early', async () => {
    const spec = fakeSpec('console.log("bind failed: address in use"); process.exit(3)', async () => false);
    await expect(launchService(spec, runtime, 60_000, logger)).rejects.toMatchObject({
      code: 'START_FAILED',
      message: expect.stringMatching(/Fake exited with code 3 before it was ready[\s\S]*bind failed: address in use/),
    });
    expect(existsSync(spec.pidFile)).toBe(false);
  });

  it('fails with START_TIMEOUT and leaves nothing running when the service never answers', async () => {
    const spec = fakeSpec('setInterval(() => {}, 1000)', async () => false);
    const attempt = launchService(spec, runtime, 1500, logger);
    await new Promise((r) => setTimeout(r, 300));
    const pid = readPidRecord(spec.pidFile)?.pid;
    await expect(attempt).rejects.toMatchObject({ code: 'START_TIMEOUT', message: expect.stringContaining('SLUICE_START_TIMEOUT_MS') });
    expect(pid).toBeDefined();
    expect(isOurProcess(pid as number, spec.marker)).toBe(false);
    expect(existsSync(spec.pidFile)).toBe(false);
  });

  it('stops the process when the probe itself throws', async () => {
    const spec = fakeSpec('setInterval(() => {}, 1000)', async () => {
      throw new Error('probe bug');
    });
    await expect(launchService(spec, runtime, 10_000, logger)).rejects.toThrow('probe bug');
    expect(serviceStatus(spec).running).toBe(false);
  });
});
