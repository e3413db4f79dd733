// The README's `npx sluice` on a fresh clone: npm links workspace bins at install time, before anything is built, so
// each bin must be a tracked executable outside dist/ that finds the build when it runs.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
const bins = [
  { dir: 'apps/producer-cli', name: 'sluice' },
  { dir: 'apps/consumer', name: 'sluice-consumer' },
];

describe.each(bins)('the $name bin', ({ dir, name }) => {
  const file = (JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin[name];

  it('is tracked in git as an executable outside dist/, so a fresh clone has it at install time', () => {
    expect(file).not.toMatch(/^(\.\/)?dist\//);
    const entry = execFileSync('git', ['ls-files', '--stage', '--', join(dir, file)], { cwd: root, encoding: 'utf8' });
    expect(entry).toMatch(/^100755 /);
  });

  it('is the file npm linked into node_modules/.bin', () => {
    expect(realpathSync(join(root, 'node_modules', '.bin', name))).toBe(realpathSync(join(root, dir, file)));
  });

  it('runs through npx after the build', () => {
    const out = execFileSync('npx', ['--no-install', name, '--help'], { cwd: root, encoding: 'utf8' });
    expect(out).toMatch(new RegExp(`^Usage: ${name} `));
  });

  it('says to build first, in one line, when dist/ is missing', () => {
    const dirNoBuild = mkdtempSync(join(tmpdir(), 'sluice-bin-'));
    try {
      copyFileSync(join(root, dir, file), join(dirNoBuild, 'bin.js'));
      const run = spawnSync(process.execPath, [join(dirNoBuild, 'bin.js'), '--help'], { encoding: 'utf8' });
      expect(run.status).toBe(1);
      expect(run.stderr).toBe(`${name}: not built yet: run \`npm run build\` in the repository root first\n`);
    } finally {
      rmSync(dirNoBuild, { recursive: true, force: true });
    }
  });
});
