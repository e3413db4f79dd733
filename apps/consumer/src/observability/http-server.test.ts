import type { DrainEndpoint } from '../config';
import { drainDecision, isLoopback, startHttpServer, type HttpOptions, type Probes } from './http-server';
import { WorkerMetrics } from './metrics';

async function serve(probes: Partial<Probes>, o: Partial<HttpOptions> = {}) {
  const all: Probes = { healthy: () => true, notReady: () => undefined, drain: () => Promise.resolve(), ...probes };
  const { server, port } = await startHttpServer(new WorkerMetrics(false).registry, all, { port: 0, host: '127.0.0.1', drainEndpoint: 'loopback', ...o });
  return { server, base: `http://127.0.0.1:${port}` };
}

describe('startHttpServer', () => {
  it('serves /metrics, /healthz and a /readyz that follows readiness and says why it fails', async () => {
    const metrics = new WorkerMetrics(false);
    metrics.received.inc(3);
    metrics.lag.set({ topic: 't', partition: '0' }, 7);
    let why: string | undefined = 'partition 3 stalled:\nwork pending';
    const { server, port } = await startHttpServer(metrics.registry, { healthy: () => true, notReady: () => why, drain: () => Promise.resolve() }, { port: 0, host: '127.0.0.1', drainEndpoint: 'loopback' });
    try {
      const base = `http://127.0.0.1:${port}`;
      const text = await (await fetch(`${base}/metrics`)).text();
      expect(text).toContain('sluice_jobs_received_total 3');
      expect(text).toContain('sluice_partition_lag{topic="t",partition="0"} 7');
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const notReady = await fetch(`${base}/readyz`);
      expect(notReady.status).toBe(503);
      expect(await notReady.text()).toBe('not ready: partition 3 stalled: work pending\n');
      why = undefined;
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      expect((await fetch(`${base}/nope`)).status).toBe(404);
    } finally {
      server.close();
    }
  });

  it('answers POST /drain only once the drain has finished, and 500 when it failed', async () => {
    let finish: () => void = () => undefined;
    let fail = false;
    const drain = () => (fail ? Promise.reject(new Error('commit refused')) : new Promise<void>((resolve) => (finish = resolve)));
    const { server, base } = await serve({ drain });
    try {
      let answered = false;
      const pending = fetch(`${base}/drain`, { method: 'POST' }).then((r) => ((answered = true), r));
      await new Promise((r) => setTimeout(r, 50));
      expect(answered).toBe(false);
      finish();
      const r = await pending;
      expect(r.status).toBe(200);
      expect(await r.text()).toBe('drained\n');
      fail = true;
      const failed = await fetch(`${base}/drain`, { method: 'POST' });
      expect(failed.status).toBe(500);
      expect(await failed.text()).toContain('commit refused');
    } finally {
      server.close();
    }
  });

  it('refuses GET /drain with 405 and Allow: POST, without draining', async () => {
    let drains = 0;
    const { server, base } = await serve({ drain: () => (drains++, Promise.resolve()) });
    try {
      const r = await fetch(`${base}/drain`);
      expect(r.status).toBe(405);
      expect(r.headers.get('allow')).toBe('POST');
      expect(drains).toBe(0);
    } finally {
      server.close();
    }
  });

  it.each<[DrainEndpoint, string, number]>([
    ['loopback', '10.0.0.1', 403],
    ['loopback', '::ffff:10.0.0.1', 403],
    ['loopback', '::ffff:127.0.0.1', 200],
    ['any', '10.0.0.1', 200],
    ['off', '127.0.0.1', 404],
  ])('with --drain-endpoint %s a POST from %s gets %i', async (mode, address, status) => {
    let drains = 0;
    const { server, base } = await serve({ drain: () => (drains++, Promise.resolve()) }, { drainEndpoint: mode, remoteAddress: () => address });
    try {
      expect((await fetch(`${base}/drain`, { method: 'POST' })).status).toBe(status);
      expect(drains).toBe(status === 200 ? 1 : 0);
    } finally {
      server.close();
    }
  });
});

describe('the drain address rule', () => {
  it('counts 127.0.0.0/8 and ::1, plain or IPv4-mapped, as loopback and nothing else', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '::FFFF:127.0.0.9']) expect(isLoopback(a)).toBe(true);
    for (const a of ['10.0.0.1', '::ffff:10.0.0.1', '0.0.0.0', '::', '128.0.0.1', '::ffff:192.168.1.1', 'fe80::1', '', undefined, '127.0.0.1.evil']) expect(isLoopback(a)).toBe(false);
  });

  it('allows loopback by default, anyone with any, nobody with off', () => {
    expect(drainDecision('loopback', '::ffff:127.0.0.1')).toBe('allow');
    expect(drainDecision('loopback', '::ffff:10.0.0.1')).toBe(403);
    expect(drainDecision('any', '203.0.113.7')).toBe('allow');
    expect(drainDecision('off', '127.0.0.1')).toBe(404);
  });
});
