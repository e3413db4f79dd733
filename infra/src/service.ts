import { mkdirSync } from 'node:fs';
import type { Logger } from 'pino';
import type { ServiceName } from './config';
import { LocalServiceError } from './errors';
import type { InstalledRuntime } from './installer';
import { assertPortFree } from './ports';
import { isOurProcess, readPidRecord, removePidRecord, spawnDetached, tail, terminate, writePidRecord } from './process-control';

/** A port a service listens on, with the setting that changes it (named in errors). */
export interface ServicePort {
  role: string;
  port: number;
  setting: string;
}

/** Everything the generic lifecycle needs to know about one service. */
export interface ServiceSpec {
  name: ServiceName;
  label: string;
  host: string;
  /** This service's own directory under the data dir: config, data, log and pid file. */
  dir: string;
  pidFile: string;
  logFile: string;
  /** Config file path passed on the command line: identifies our process in `ps`. */
  marker: string;
  ports: ServicePort[];
  /** Writes config files and one-time state (e.g. formats Kafka storage) before launch. */
  prepare(runtime: InstalledRuntime, logger: Logger): Promise<void>;
  command(runtime: InstalledRuntime): { command: string; args: string[]; env?: NodeJS.ProcessEnv };
  /** One readiness attempt: resolves true once the service answers real requests. */
  probe(): Promise<boolean>;
}

export interface ServiceStatus {
  name: ServiceName;
  running: boolean;
  pid?: number;
  /** Ports of the running instance, else the configured ones. */
  ports: Record<string, number>;
  logFile: string;
  dir: string;
}

export function serviceStatus(spec: ServiceSpec): ServiceStatus {
  const record = readPidRecord(spec.pidFile);
  const base = { name: spec.name, logFile: spec.logFile, dir: spec.dir };
  if (record && isOurProcess(record.pid, record.marker)) return { ...base, running: true, pid: record.pid, ports: record.ports };
  return { ...base, running: false, ports: Object.fromEntries(spec.ports.map((p) => [p.role, p.port])) };
}

/** Fails fast with PORT_IN_USE before anything slow happens. */
export async function assertPortsFree(spec: ServiceSpec): Promise<void> {
  for (const p of spec.ports) await assertPortFree(spec.host, p.port, `${spec.label} (${p.role})`, p.setting);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntilReady(spec: ServiceSpec, exited: () => string | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const exit = exited();
    if (exit !== undefined) {
      throw new LocalServiceError('START_FAILED', `${spec.label} ${exit} before it was ready; last log lines (${spec.logFile}):\n${tail(spec.logFile, 25)}`);
    }
    if (await spec.probe()) return;
    if (Date.now() > deadline) {
      throw new LocalServiceError(
        'START_TIMEOUT',
        `${spec.label} did not answer within ${Math.round(timeoutMs / 1000)} s (raise SLUICE_START_TIMEOUT_MS on a slow machine); last log lines (${spec.logFile}):\n${tail(spec.logFile, 25)}`,
      );
    }
    await sleep(500);
  }
}

/** Launches the service and waits until it answers; on failure nothing of it is left running. */
export async function launchService(spec: ServiceSpec, runtime: InstalledRuntime, timeoutMs: number, logger: Logger): Promise<ServiceStatus> {
  mkdirSync(spec.dir, { recursive: true });
  removePidRecord(spec.pidFile);
  await spec.prepare(runtime, logger);
  const { command, args, env } = spec.command(runtime);
  logger.info({ service: spec.name, logFile: spec.logFile }, `starting ${spec.label}; logs: ${spec.logFile}`);
  const child = spawnDetached(command, args, { cwd: spec.dir, logFile: spec.logFile, env });
  let exit: string | undefined;
  child.on('exit', (code, signal) => (exit = signal ? `was killed by ${signal}` : `exited with code ${code}`));
  child.on('error', (err) => (exit = `could not be launched (${err.message})`));
  if (child.pid !== undefined) {
    const ports = Object.fromEntries(spec.ports.map((p) => [p.role, p.port]));
    writePidRecord(spec.pidFile, { pid: child.pid, marker: spec.marker, ports, logFile: spec.logFile, startedAt: new Date().toISOString() });
  }
  try {
    await waitUntilReady(spec, () => exit, timeoutMs);
  } catch (err) {
    // Whatever went wrong, nothing half-started is left behind.
    if (child.pid !== undefined) await terminate(child.pid, spec.marker, 10_000);
    removePidRecord(spec.pidFile);
    throw err;
  }
  logger.info({ service: spec.name, pid: child.pid }, `${spec.label} is ready`);
  return serviceStatus(spec);
}

/** Stops the process recorded in the pid file if it is still ours; resolves whether one was running. */
export async function stopService(spec: ServiceSpec, logger: Logger): Promise<boolean> {
  const record = readPidRecord(spec.pidFile);
  if (!record || !isOurProcess(record.pid, record.marker)) {
    removePidRecord(spec.pidFile);
    return false;
  }
  logger.info({ service: spec.name, pid: record.pid }, `stopping ${spec.label}`);
  if (!(await terminate(record.pid, record.marker, 60_000))) {
    throw new LocalServiceError('STOP_FAILED', `${spec.label} (pid ${record.pid}) did not exit after SIGTERM and SIGKILL.`);
  }
  removePidRecord(spec.pidFile);
  return true;
}
