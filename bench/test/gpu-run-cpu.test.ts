// The GPU run's kit and script, exercised on every change the way a CPU machine can: pack the kit (this Node,
// fast compression), unpack and run bench/gpu/run.sh --cpu from it (clean addon build, a slice of the op suite,
// parity, throughput on a tiny model), and check its summary. A broken path or a missing file fails here, not on
// the GPU machine.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const repo = join(__dirname, '..', '..');

describe('bench/gpu/run.sh --cpu', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-gpu-kit-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('packs the kit, runs every step from it and prints a summary with no failure', () => {
    const kit = join(dir, 'kit.tar.xz');
    const pack = spawnSync(process.execPath, [join(repo, 'bench/gpu/pack-kit.mjs'), '--host-node', '--fast', '--out', kit], { encoding: 'utf8' });
    expect(pack.stderr).toBe('');
    expect(pack.status).toBe(0);

    const out = join(dir, 'out');
    const env = { ...process.env };
    delete env.OUT;
    // A slice of the op suite: the whole of it runs in @sluice/cuda-kernels' own tests.
    const run = spawnSync('bash', [join(repo, 'bench/gpu/run.sh'), '--cpu', '--kit', kit, '--out', out, '--ops', 'devices|memory'], { encoding: 'utf8', env });
    expect({ status: run.status, tail: run.stdout.slice(-3000) + run.stderr.slice(-2000) }).toMatchObject({ status: 0 });

    const rows = readFileSync(join(out, 'summary.tsv'), 'utf8').trim().split('\n').map((l) => l.split('\t'));
    const status = Object.fromEntries(rows.map(([name, s]) => [name, s]));
    expect(status).toEqual({
      build: 'ok', models: 'ok', ops: 'ok', 'parity-f32': 'ok', 'parity-bf16': 'skipped', 'parity-hf': 'skipped',
      'throughput-sluice': 'ok', 'latency-sluice': 'ok', 'throughput-hf': 'skipped',
    });
    const parity = JSON.parse(rows.find(([name]) => name === 'parity-f32')![3]);
    expect(parity).toMatchObject({ ok: true, a: 'sluice-cpu', b: 'sluice-cpu', maxPromptLogprobDiff: 0 });
    expect(parity.greedyTokensCompared).toBeGreaterThan(0);
    const speed = JSON.parse(rows.find(([name]) => name === 'throughput-sluice')![3]);
    expect(speed).toMatchObject({ engine: 'sluice', device: 'cpu', requests: 16, outputTokens: 16 * 16 });
    // Colour codes (a CI that forces colour) are not part of what the summary line says.
    const opsLog = readFileSync(join(out, 'ops.log'), 'utf8').replace(/\x1b\[[0-9;]*m/g, '');
    expect(opsLog).toMatch(/Tests:\s+\d+ passed, \d+ total/);
  }, 900_000);
});
