import { startHttpServer } from './http-server';
import { WorkerMetrics } from './metrics';

describe('startHttpServer', () => {
  it('serves /metrics, /healthz and a /readyz that follows readiness', async () => {
    const metrics = new WorkerMetrics(false);
    metrics.received.inc(3);
    metrics.lag.set({ topic: 't', partition: '0' }, 7);
    let ready = false;
    const { server, port } = await startHttpServer(metrics.registry, { healthy: () => true, ready: () => ready, drain: () => Promise.resolve() }, 0, '127.0.0.1');
    try {
      const base = `http://127.0.0.1:${port}`;
      const text = await (await fetch(`${base}/metrics`)).text();
      expect(text).toContain('sluice_jobs_received_total 3');
      expect(text).toContain('sluice_partition_lag{topic="t",partition="0"} 7');
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(503);
      ready = true;
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      expect((await fetch(`${base}/nope`)).status).toBe(404);
    } finally {
      server.close();
    }
  });

  it('answers /drain only once the drain has finished, and 500 when it failed', async () => {
    let finish: () => void = () => undefined;
    let fail = false;
    const drain = () => (fail ? Promise.reject(new Error('commit refused')) : new Promise<void>((resolve) => (finish = resolve)));
    const { server, port } = await startHttpServer(new WorkerMetrics(false).registry, { healthy: () => true, ready: () => true, drain }, 0, '127.0.0.1');
    try {
      let answered = false;
      const pending = fetch(`http://127.0.0.1:${port}/drain`).then((r) => ((answered = true), r));
      await new Promise((r) => setTimeout(r, 50));
      expect(answered).toBe(false);
      finish();
      const r = await pending;
      expect(r.status).toBe(200);
      expect(await r.text()).toBe('drained\n');
      fail = true;
      const failed = await fetch(`http://127.0.0.1:${port}/drain`);
      expect(failed.status).toBe(500);
      expect(await failed.text()).toContain('commit refused');
    } finally {
      server.close();
    }
  });
});
