import { HOST, parseServiceNames, resolveConfig } from './config';
import { LocalServiceError } from './errors';
import { localKafkaTls, type LocalKafkaTls } from './kafka';
import { localServicesStatus, startLocalServices, stopLocalServices } from './local-services';
import { cliLogger } from './logger';
import type { ServiceStatus } from './service';

const USAGE = 'usage: sluice-local <start|stop|status|install> [kafka|s3|all]';

function describe(status: ServiceStatus): string {
  const ports = Object.entries(status.ports)
    .map(([role, port]) => `${role} port ${port}`)
    .join(', ');
  const state = status.running ? `running (pid ${status.pid}), ${ports}` : `stopped (configured: ${ports})`;
  return `${status.name}: ${state}; logs ${status.logFile}; data ${status.dir}`;
}

function tlsLines(tls: LocalKafkaTls): string[] {
  return [
    `kafka TLS brokers: ${tls.brokers.join(',')} (trust CA ${tls.ca})`,
    `kafka mutual-TLS brokers: ${tls.mtlsBrokers.join(',')} (trust CA ${tls.ca}; client cert ${tls.cert}, key ${tls.key})`,
  ];
}

/** Runs one CLI command (install is handled by local/install.mjs, which needs no build); resolves the exit code. */
export async function main(argv: string[], print: (line: string) => void = console.log): Promise<number> {
  const [command, target, ...extra] = argv;
  const logger = cliLogger();
  try {
    if (extra.length > 0 || !['start', 'stop', 'status'].includes(command ?? '')) {
      console.error(USAGE);
      return 2;
    }
    const services = parseServiceNames(target);
    if (command === 'start') {
      const local = await startLocalServices({ services, logger });
      for (const status of local.statuses) {
        print(`${local.started.includes(status.name) ? 'started' : 'already running'}: ${describe(status)}`);
      }
      if (services.includes('kafka')) for (const line of [`kafka brokers: ${local.brokers.join(',')}`, ...tlsLines(local.kafkaTls)]) print(line);
      if (services.includes('s3')) {
        const { endpoint, region, credentials } = local.s3;
        print(`s3 endpoint: ${endpoint} (region ${region}, access key ${credentials.accessKeyId}, secret ${credentials.secretAccessKey}, path-style)`);
      }
    } else if (command === 'stop') {
      for (const result of await stopLocalServices({ services, logger })) {
        print(result.stoppedPid !== undefined ? `${result.name}: stopped (pid ${result.stoppedPid})` : `${result.name}: not running`);
      }
    } else {
      for (const status of localServicesStatus({ services, logger })) {
        print(describe(status));
        // The running broker's own ports (its pid record); one started before TLS listeners existed records none.
        const { tls, mtls } = status.ports;
        if (status.name === 'kafka' && status.running && tls !== undefined && mtls !== undefined) {
          for (const line of tlsLines({ ...localKafkaTls(resolveConfig()), brokers: [`${HOST}:${tls}`], mtlsBrokers: [`${HOST}:${mtls}`] })) print(line);
        }
      }
    }
    return 0;
  } catch (err) {
    if (!(err instanceof LocalServiceError)) throw err;
    console.error(`sluice-local: ${err.message}`);
    return 1;
  }
}
