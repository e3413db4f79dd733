import { WorkerMetrics } from './metrics';
import { startHttpServer } from './http-server';

describe('metrics and probes server', () => {
  it('serves /metrics, /healthz and a /readyz that follows readiness', async () => {
    const metrics = new WorkerMetrics(false);
    metrics.received.inc(3);
    metrics.lag.set({ topic: 't', partition: '0' }, 7);
    let ready = false;
    const { server, port } = await startHttpServer(metrics.registry, { healthy: () => true, ready: () => ready }, 0, '127.0.0.1');
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
});
