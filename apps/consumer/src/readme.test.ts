import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXTRA_ENV, settingDocs } from './config';
import { WorkerMetrics } from './observability/metrics';

describe('apps/consumer/README.md', () => {
  const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');

  it('lists every flag with its variable and default, and the env-only settings', () => {
    for (const d of settingDocs()) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${d.flag}\` |`));
      expect(row).toBeDefined();
      expect(row).toContain(`\`${d.env}\``);
      if (d.default !== undefined) expect(row).toContain(`\`${d.default}\``);
    }
    for (const e of EXTRA_ENV) for (const v of e.env.split(', ')) expect(readme).toContain(`\`${v}\``);
  });

  it('describes every sluice_ metric the worker exports', async () => {
    const names = (await new WorkerMetrics(false).registry.getMetricsAsJSON()).map((m) => m.name);
    for (const n of names) expect(readme).toContain(`\`${n}`);
  });
});
