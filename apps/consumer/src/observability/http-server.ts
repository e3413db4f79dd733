import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface Probes {
  /** Alive: the process is not wedged (event loop answers) and has not hit a fatal error. */
  healthy(): boolean;
  /** Ready: connected to Kafka, in the group, and not draining. */
  ready(): boolean;
  /** Starts the graceful drain SIGTERM starts (or joins it) and resolves once it has finished. */
  drain(): Promise<void>;
}

/**
 * /metrics (Prometheus text), /healthz, /readyz and /drain on one port. /drain is Kubernetes' preStop hook: an
 * httpGet hook blocks the kubelet's SIGTERM until it answers, so the drain is never cut short by a second signal.
 */
export async function startHttpServer(registry: Registry, probes: Probes, port: number, host: string): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    } else if (path === '/healthz' || path === '/readyz') {
      const ok = path === '/healthz' ? probes.healthy() : probes.ready();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'not ready\n');
    } else if (path === '/drain') {
      probes.drain().then(
        () => res.writeHead(200, { 'content-type': 'text/plain' }).end('drained\n'),
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`drain failed: ${err.message}\n`),
      );
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
