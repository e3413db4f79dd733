import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatNumber, markdownTable, upsertSection } from '../src/report';

describe('markdownTable', () => {
  it('renders headers, separator and rows, escaping pipes', () => {
    expect(markdownTable(['op', 'GB/s'], [['a|b', 12.3456], ['c', 4096]])).toBe(
      ['| op | GB/s |', '| --- | --- |', '| a\\|b | 12.3 |', '| c | 4,096 |'].join('\n'),
    );
  });

  it('rejects a row with the wrong number of cells', () => {
    expect(() => markdownTable(['a', 'b'], [['x']])).toThrow('row 0 has 1 cells, the table has 2 columns');
  });

  it('keeps non-finite numbers visible', () => {
    expect(formatNumber(Number.NaN)).toBe('NaN');
    expect(formatNumber(0.000123456)).toBe('0.000123');
  });
});

describe('upsertSection', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));

  it('creates the file with a title when it does not exist', () => {
    const path = join(dir, 'new.md');
    upsertSection(path, 'Kernels', 'numbers');
    expect(readFileSync(path, 'utf8')).toBe('# Benchmarks\n\n## Kernels\n\nnumbers\n');
  });

  it('replaces only its own section and keeps the others in order', () => {
    const path = join(dir, 'existing.md');
    writeFileSync(path, '# Benchmarks\n\n## A\n\nold a\n\n## B\n\nkeep b\n');
    upsertSection(path, 'A', 'new a');
    upsertSection(path, 'C', 'c body');
    expect(readFileSync(path, 'utf8')).toBe('# Benchmarks\n\n## A\n\nnew a\n\n## B\n\nkeep b\n\n## C\n\nc body\n');
  });
});
