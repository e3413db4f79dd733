import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIPv4 } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { DrainEndpoint } from '../config';

export interface Probes {
  /** Alive: the process is not wedged (event loop answers) and has not hit a fatal error. */
  healthy(): boolean;
  /** Undefined when ready (in the group, not draining, partitions progressing, commits succeeding); else one line saying why not. */
  notReady(): string | undefined;
  /** Starts the graceful drain SIGTERM starts (or joins it) and resolves once it has finished. */
  drain(): Promise<void>;
}

export interface HttpOptions {
  port: number;
  host: string;
  /** Who may POST /drain. */
  drainEndpoint: DrainEndpoint;
  /** The caller's address; tests inject one to stand in for a remote caller. */
  remoteAddress?: (req: IncomingMessage) => string | undefined;
}

/** 127.0.0.0/8 and ::1, also written as IPv4-mapped IPv6 (::ffff:127.0.0.1), as a dual-stack socket reports them. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.toLowerCase();
  if (a === '::1') return true;
  const v4 = a.startsWith('::ffff:') ? a.slice('::ffff:'.length) : a;
  return isIPv4(v4) && v4.startsWith('127.');
}

/** The answer to a drain request from this address under this setting: allowed, or the status refusing it. */
export function drainDecision(mode: DrainEndpoint, address: string | undefined): 'allow' | 403 | 404 {
  if (mode === 'off') return 404;
  if (mode === 'any' || isLoopback(address)) return 'allow';
  return 403;
}

const text = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) =>
  res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(body);

function onDrain(req: IncomingMessage, res: ServerResponse, probes: Probes, o: HttpOptions): void {
  const decision = drainDecision(o.drainEndpoint, (o.remoteAddress ?? ((r) => r.socket.remoteAddress))(req));
  if (decision === 404) return void text(res, 404, 'the drain endpoint is off (--drain-endpoint off)\n');
  // A GET must never change state (a crawler, a prefetch or a link preview would stop the worker).
  if (req.method !== 'POST') return void text(res, 405, 'use POST /drain\n', { allow: 'POST' });
  if (decision === 403) return void text(res, 403, 'POST /drain is accepted from loopback only (--drain-endpoint loopback)\n');
  probes.drain().then(
    () => text(res, 200, 'drained\n'),
    (err: Error) => text(res, 500, `drain failed: ${err.message}\n`),
  );
}

/**
 * /metrics (Prometheus text), /healthz, /readyz and POST /drain on one port. /drain is Kubernetes' preStop hook (an
 * exec hook POSTing from inside the pod): the kubelet's SIGTERM waits for it, so the drain is never cut short.
 */
export async function startHttpServer(registry: Registry, probes: Probes, o: HttpOptions): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    } else if (path === '/healthz') {
      if (probes.healthy()) text(res, 200, 'ok\n');
      else text(res, 503, 'the Kafka consumer crashed for good\n');
    } else if (path === '/readyz') {
      const why = probes.notReady();
      text(res, why === undefined ? 200 : 503, why === undefined ? 'ok\n' : `not ready: ${why.replace(/\s+/g, ' ')}\n`);
    } else if (path === '/drain') {
      onDrain(req, res, probes, o);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
