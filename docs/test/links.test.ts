import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { brokenLinks, relativeLinks } from '../src/links';

describe('relativeLinks', () => {
  it('finds relative links and images, and skips URLs, anchors and fenced code', () => {
    const md = [
      'See [the guide](guide.md#start) and ![chart](img/chart.svg "Throughput").',
      '[web](https://example.com) [mail](mailto:a@b.c) [here](#top)',
      '```',
      '[not a link](missing.md)',
      '```',
      '[dir](../infra/)',
    ].join('\n');
    expect(relativeLinks(md)).toEqual([
      { line: 1, target: 'guide.md#start' },
      { line: 1, target: 'img/chart.svg' },
      { line: 6, target: '../infra/' },
    ]);
  });
});

describe('brokenLinks', () => {
  it('reports the file, line and target of each link to a missing path', () => {
    const root = mkdtempSync(join(tmpdir(), 'sluice-docs-'));
    mkdirSync(join(root, 'sub'));
    writeFileSync(join(root, 'sub', 'ok.md'), '# ok\n');
    writeFileSync(join(root, 'README.md'), '[ok](sub/ok.md)\n\n[gone](sub/gone.md)\n');
    expect(brokenLinks(root)).toEqual([{ file: 'README.md', line: 3, target: 'sub/gone.md' }]);
  });

  it('finds no broken relative link in the repository itself', () => {
    expect(brokenLinks(resolve(__dirname, '..', '..'))).toEqual([]);
  });
});
