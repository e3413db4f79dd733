import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { LocalConfig, ServiceName } from './config';
import { LocalServiceError, type LocalServiceErrorCode } from './errors';

/** infra/local/install.mjs: the one place that checks java/mvn and resolves jars (it must run before any build). */
export const INSTALL_SCRIPT = join(__dirname, '..', 'local', 'install.mjs');

export interface InstalledRuntime {
  /** The java executable that passed the version check. */
  java: string;
  javaVersion: string;
  /** Java classpath (a `dir/*` wildcard) per service. */
  classpath: Partial<Record<ServiceName, string>>;
}

interface InstallOutput {
  java?: string;
  javaVersion?: string;
  services?: Partial<Record<ServiceName, { classpath: string }>>;
  error?: { code: LocalServiceErrorCode; message: string };
}

/** Makes sure java works and the services' jars are cached (resolving them with Maven if not); fast when cached. */
export function ensureInstalled(services: readonly ServiceName[], config: LocalConfig, logger: Logger): Promise<InstalledRuntime> {
  const arg = services.length === 1 ? services[0] : 'all';
  const env = { ...process.env, SLUICE_CACHE_DIR: config.cacheDir };
  return new Promise((resolvePromise, reject) => {
    execFile(process.execPath, [INSTALL_SCRIPT, arg, '--json'], { env, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      for (const line of stderr.split('\n').filter(Boolean)) logger.info(line);
      let output: InstallOutput;
      try {
        output = JSON.parse(stdout.trim().split('\n').pop() ?? '') as InstallOutput;
      } catch {
        reject(new LocalServiceError('INSTALL_FAILED', `${INSTALL_SCRIPT} failed without a result (${error?.message ?? 'no output'}): run it by hand to see why.`));
        return;
      }
      if (output.error) {
        reject(new LocalServiceError(output.error.code, output.error.message));
        return;
      }
      const classpath: InstalledRuntime['classpath'] = {};
      for (const name of services) classpath[name] = output.services?.[name]?.classpath;
      resolvePromise({ java: output.java ?? 'java', javaVersion: output.javaVersion ?? 'unknown', classpath });
    });
  });
}
