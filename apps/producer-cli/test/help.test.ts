// --help of every command, from the built bin, and the README's flag tables and exit codes kept in step with them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT } from '../src/errors';
import { buildProgram } from '../src/program';
import { sluice } from './harness';

const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
const commands = buildProgram({ out: () => undefined, err: () => undefined }).commands;

describe('sluice --help', () => {
  it('lists every command and the exit codes', async () => {
    const run = await sluice(['--help']);
    expect(run.code).toBe(0);
    for (const c of commands) expect(run.stdout).toContain(`  ${c.name()} `);
    for (const code of Object.values(EXIT)) expect(run.stdout).toMatch(new RegExp(`\\b${code} \\S`));
  });

  it.each(commands.map((c) => [c.name(), c] as const))('%s --help shows every flag', async (name, command) => {
    const run = await sluice([name, '--help']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toContain(`Usage: sluice ${name} `);
    for (const o of command.options) expect(run.stdout).toContain(o.flags);
  });
});

describe('README.md', () => {
  it('has a table row for every flag of every command', () => {
    const rows = readme.split('\n').filter((l) => l.startsWith('| `'));
    for (const c of commands) {
      for (const o of c.options) expect({ command: c.name(), row: rows.some((r) => r.startsWith(`| \`${o.flags.replace(/\|/g, '\\|')}\` |`)) }).toEqual({ command: c.name(), row: true });
    }
  });

  it('documents every exit code', () => {
    for (const code of Object.values(EXIT)) expect(readme).toMatch(new RegExp(`^\\| ${code} \\| \\S`, 'm'));
  });
});

describe('--json', () => {
  it.each(['collect b-x', 'generate --model m --input i.jsonl'])('%s: refused with -o -, whose lines own stdout', async (args) => {
    const run = await sluice([...args.split(' '), '-o', '-', '--json']);
    expect(run).toMatchObject({ code: EXIT.USAGE, stdout: '' });
    expect(run.stderr.trim()).toBe('sluice: --json prints the summary on stdout, which -o - gives to the lines: write the lines to a file');
  });
});
