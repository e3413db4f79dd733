// infra/k8s and infra/grafana against the consumer itself: every variable, path, port and metric they name is real,
// and the drain, grace period and scale-down settings agree with each other.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { EXTRA_ENV, parseDuration, resolveConfig, settingDocs } from '../src/config';
import { startHttpServer } from '../src/observability/http-server';
import { WorkerMetrics } from '../src/observability/metrics';

const ROOT = join(__dirname, '..', '..', '..');
const K8S = join(ROOT, 'infra', 'k8s');

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are untyped YAML; the assertions are the types */
const docs: any[] = readdirSync(K8S)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => parseAllDocuments(readFileSync(join(K8S, f), 'utf8')).map((d) => ({ ...d.toJS(), file: f })));
const one = (kind: string): any => {
  const found = docs.filter((d) => d.kind === kind);
  expect(found).toHaveLength(1);
  return found[0];
};

const KNOWN_ENV = new Set([...settingDocs().map((d) => d.env), ...EXTRA_ENV.flatMap((e) => e.env.split(', '))]);

describe('infra/k8s', () => {
  const configMap = one('ConfigMap');
  const deployment = one('Deployment');
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];
  const data: Record<string, string> = configMap.data;

  it('lists every manifest in the kustomization', () => {
    const files = readdirSync(K8S).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...one('Kustomization').resources].sort()).toEqual(files.sort());
  });

  it('sets only real SLUICE_* variables, and the consumer accepts the resulting config', () => {
    const fromPod: Record<string, string> = {};
    for (const e of container.env) {
      expect(KNOWN_ENV).toContain(e.name);
      fromPod[e.name] = e.value ?? `from-${e.valueFrom.secretKeyRef?.key ?? e.valueFrom.fieldRef?.fieldPath}`;
    }
    for (const key of Object.keys(data)) expect(KNOWN_ENV).toContain(key);
    expect(container.envFrom[0].configMapRef.name).toBe(configMap.metadata.name);
    // The model volume exists only in the cluster: any existing directory stands in for it here.
    const config = resolveConfig([], { ...data, ...fromPod, SLUICE_MODEL: mkdtempSync(join(tmpdir(), 'model-')) });
    expect(config).toMatchObject({ engine: 'llm', delivery: 'exactly-once', sasl: { mechanism: data.SLUICE_KAFKA_SASL_MECHANISM, password: 'from-password' } });
    expect(config.ssl).toBeDefined();
    expect(container.command.slice(1)).toEqual(['apps/consumer/dist/main.js']);
  });

  it('asks for one GPU and probes the real endpoints on the metrics port', () => {
    expect(container.resources.requests['nvidia.com/gpu']).toBe(1);
    expect(container.resources.limits['nvidia.com/gpu']).toBe(1);
    const metricsPort = container.ports.find((p: any) => p.name === 'metrics');
    expect(String(metricsPort.containerPort)).toBe(data.SLUICE_METRICS_PORT);
    expect(deployment.spec.template.metadata.annotations['prometheus.io/port']).toBe(data.SLUICE_METRICS_PORT);
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(container.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    expect(container.lifecycle.preStop.httpGet).toBeUndefined();
    expect(container.lifecycle.preStop.exec.command.slice(0, 2)).toEqual(['node', '-e']);
    expect(pod.serviceAccountName).toBe(one('ServiceAccount').metadata.name);
  });

  it('runs a preStop hook that POSTs /drain from loopback on the configured port and fails unless the drain did', async () => {
    const [cmd, ...args] = container.lifecycle.preStop.exec.command as string[];
    expect(data.SLUICE_DRAIN_ENDPOINT ?? 'loopback').toBe('loopback');
    let result: Promise<void> = Promise.resolve();
    let drains = 0;
    const probes = { healthy: () => true, notReady: () => undefined, drain: () => (drains++, result) };
    const { server, port } = await startHttpServer(new WorkerMetrics(false).registry, probes, { port: 0, host: '127.0.0.1', drainEndpoint: 'loopback' });
    // The hook as the kubelet runs it: the image's node, the container's environment (the ConfigMap's port stands in for the test's).
    const hook = () =>
      new Promise<number | null>((resolve) => {
        const child = spawn(cmd === 'node' ? process.execPath : cmd, args, { env: { PATH: process.env.PATH ?? '', SLUICE_METRICS_PORT: String(port) }, stdio: 'ignore' });
        child.on('exit', (code) => resolve(code));
      });
    try {
      expect(await hook()).toBe(0);
      expect(drains).toBe(1);
      result = Promise.reject(new Error('the last commit failed'));
      result.catch(() => undefined);
      expect(await hook()).toBe(1);
    } finally {
      server.close();
    }
  });

  it('gives the preStop drain its timeout plus 30 s for the last commit inside the grace period', () => {
    const drainMs = parseDuration(data.SLUICE_DRAIN_TIMEOUT);
    expect(drainMs).toBeDefined();
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(drainMs! / 1000 + 30);
  });

  it('scales the Deployment on the lag of the group and topic the workers use, one draining pod at a time', () => {
    const scaled = one('ScaledObject');
    expect(scaled.spec.scaleTargetRef.name).toBe(deployment.metadata.name);
    const trigger = scaled.spec.triggers.find((t: any) => t.type === 'kafka');
    expect(trigger.metadata).toMatchObject({ bootstrapServers: data.SLUICE_KAFKA_BROKERS, consumerGroup: data.SLUICE_GROUP_ID, topic: data.SLUICE_JOBS_TOPIC });
    const auth = one('TriggerAuthentication');
    expect(trigger.authenticationRef.name).toBe(auth.metadata.name);
    const secretNames = new Set(container.env.filter((e: any) => e.valueFrom?.secretKeyRef).map((e: any) => e.valueFrom.secretKeyRef.name));
    for (const ref of auth.spec.secretTargetRef) expect(secretNames).toContain(ref.name);
    const [policy] = scaled.spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.policies;
    expect(policy).toMatchObject({ type: 'Pods', value: 1 });
    expect(policy.periodSeconds).toBeGreaterThanOrEqual(pod.terminationGracePeriodSeconds);
  });
});

describe('infra/grafana/sluice-dashboard.json', () => {
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'infra', 'grafana', 'sluice-dashboard.json'), 'utf8'));
  const exprs: string[] = dashboard.panels.flatMap((p: any) => (p.targets ?? []).map((t: any) => t.expr));

  it('queries only metrics the worker exports, and has a panel for each of its own', async () => {
    const exported = new Set((await new WorkerMetrics(true).registry.getMetricsAsJSON()).map((m) => m.name));
    // A histogram's series are its name plus _bucket, _sum or _count.
    const histograms = new Set((await new WorkerMetrics(false).registry.getMetricsAsJSON()).filter((m) => String(m.type) === 'histogram').map((m) => m.name));
    const base = (series: string) => series.replace(/_(bucket|sum|count)$/, (suffix) => (histograms.has(series.slice(0, -suffix.length)) ? '' : suffix));
    const used = new Set(exprs.flatMap((e) => e.match(/sluice_[a-z0-9_]+/g) ?? []).map(base));
    for (const name of used) expect(exported).toContain(name);
    for (const name of (await new WorkerMetrics(false).registry.getMetricsAsJSON()).map((m) => m.name)) expect(used).toContain(name);
  });

  it('has unique panel ids and a Prometheus data source variable', () => {
    const ids = dashboard.panels.map((p: any) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.templating.list.find((v: any) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
  });
});
