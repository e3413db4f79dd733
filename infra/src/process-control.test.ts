import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isOurProcess, readPidRecord, terminate, writePidRecord } from './process-control';

describe('pid records', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-pid-'));

  it('round-trips a record and ignores a file that is not one', () => {
    const file = join(dir, 'a.pid');
    const record = { pid: 42, marker: '/x/server.properties', ports: { broker: 1 }, logFile: '/x/log', startedAt: 'now' };
    writePidRecord(file, record);
    expect(readPidRecord(file)).toEqual(record);
    writeFileSync(file, '12345\n');
    expect(readPidRecord(file)).toBeUndefined();
    expect(readPidRecord(join(dir, 'missing.pid'))).toBeUndefined();
  });
});

describe('isOurProcess and terminate', () => {
  it('recognises a live process by its marker, never another, and stops it', async () => {
    const marker = `sluice-marker-${process.pid}`;
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', marker], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const pid = child.pid as number;
    expect(isOurProcess(pid, marker)).toBe(true);
    expect(isOurProcess(pid, 'some-other-marker')).toBe(false);
    await expect(terminate(pid, 'some-other-marker', 1000)).resolves.toBe(true);
    expect(isOurProcess(pid, marker)).toBe(true);
    await expect(terminate(pid, marker, 10_000)).resolves.toBe(true);
    await exited;
    expect(isOurProcess(pid, marker)).toBe(false);
  });
});
