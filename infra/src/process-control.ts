import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';

/** What `start` records about a process it launched; `stop` acts only on a live process matching it. */
export interface PidRecord {
  pid: number;
  /** A string unique to this service instance (its config file path) that must appear in the process command line. */
  marker: string;
  ports: Record<string, number>;
  logFile: string;
  startedAt: string;
}

export function readPidRecord(file: string): PidRecord | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const record = JSON.parse(readFileSync(file, 'utf8')) as PidRecord;
    return Number.isInteger(record.pid) && typeof record.marker === 'string' ? record : undefined;
  } catch {
    // A half-written or foreign pid file names no process we can safely act on.
    return undefined;
  }
}

export function writePidRecord(file: string, record: PidRecord): void {
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
}

export function removePidRecord(file: string): void {
  rmSync(file, { force: true });
}

function commandLine(pid: number): string | undefined {
  const proc = `/proc/${pid}/cmdline`;
  if (existsSync('/proc/self/cmdline')) {
    // Zombies and exited processes have an empty or missing cmdline: they count as not running.
    return existsSync(proc) ? readFileSync(proc, 'utf8').replace(/\0/g, ' ') : undefined;
  }
  const ps = spawnSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' });
  return ps.status === 0 ? ps.stdout : undefined;
}

/** True when `pid` is alive and is the process we started (its command line holds `marker`), so a recycled pid is never touched. */
export function isOurProcess(pid: number, marker: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return commandLine(pid)?.includes(marker) ?? false;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone, false if it outlived both. */
export async function terminate(pid: number, marker: string, graceMs: number): Promise<boolean> {
  for (const [signal, waitMs] of [['SIGTERM', graceMs], ['SIGKILL', 10_000]] as const) {
    if (!isOurProcess(pid, marker)) return true;
    try {
      process.kill(pid, signal);
    } catch {
      return !isOurProcess(pid, marker);
    }
    const deadline = Date.now() + waitMs;
    while (Date.now() < deadline) {
      if (!isOurProcess(pid, marker)) return true;
      await sleep(200);
    }
  }
  return !isOurProcess(pid, marker);
}

function openLog(logFile: string, banner: string): number {
  const fd = openSync(logFile, 'a');
  writeSync(fd, `\n=== ${new Date().toISOString()} ${banner} ===\n`);
  return fd;
}

/** Launches a long-running process in its own process group, output appended to `logFile`, not keeping this Node process alive. */
export function spawnDetached(command: string, args: string[], options: { cwd: string; logFile: string; env?: NodeJS.ProcessEnv }): ChildProcess {
  const fd = openLog(options.logFile, `starting ${command} ${args.join(' ')}`);
  try {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    return child;
  } finally {
    closeSync(fd);
  }
}

/** Runs a short command to completion with output appended to `logFile`; resolves its exit code (null if killed at the timeout). */
export function runLogged(command: string, args: string[], options: { cwd: string; logFile: string; timeoutMs: number }): Promise<number | null> {
  const fd = openLog(options.logFile, `running ${command} ${args.join(' ')}`);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', fd, fd], timeout: options.timeoutMs, killSignal: 'SIGKILL' });
    child.on('error', (err) => {
      closeSync(fd);
      reject(err);
    });
    child.on('exit', (code) => {
      closeSync(fd);
      resolvePromise(code);
    });
  });
}

/** The last `lines` lines of a log file, for error messages. */
export function tail(file: string, lines: number): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}
