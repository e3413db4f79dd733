import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export type Cell = string | number;

/** Formats numbers with at most `digits` significant decimals so tables stay readable. */
export function formatNumber(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  return Number(value.toPrecision(digits)).toString();
}

export function markdownTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const cell = (c: Cell) => (typeof c === 'number' ? formatNumber(c) : c.replace(/\|/g, '\\|'));
  for (const [i, row] of rows.entries()) {
    if (row.length !== headers.length) {
      throw new RangeError(`row ${i} has ${row.length} cells, the table has ${headers.length} columns`);
    }
  }
  const lines = [headers, headers.map(() => '---'), ...rows.map((r) => r.map(cell))];
  return lines.map((l) => `| ${l.join(' | ')} |`).join('\n');
}

/**
 * Replaces the `## title` section of a markdown file (up to the next `## ` heading), or appends it,
 * so re-running a benchmark updates its own section and leaves the others alone.
 */
export function upsertSection(path: string, title: string, body: string): void {
  const heading = `## ${title}`;
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === heading);
  const section = [heading, '', body.trimEnd(), ''];
  if (start < 0) {
    const base = text.endsWith('\n') ? text : `${text}\n`;
    writeFileSync(path, `${base}\n${section.join('\n')}`);
    return;
  }
  let end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
  if (end < 0) end = lines.length;
  const next = [...lines.slice(0, start), ...section, ...lines.slice(end)];
  writeFileSync(path, next.join('\n'));
}
