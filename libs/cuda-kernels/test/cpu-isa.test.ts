// The CPU kernel set: chosen at load by CPUID or forced by SLUICE_CPU_ISA (npm test runs the invariance and GEMM
// suites again on every other path this machine runs: scripts/test-isa-paths.mjs).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { cpuKernelPath } from '../src';

const dist = join(__dirname, '..', 'dist', 'index.js');

/** Runs `source` in a fresh node process (it requires the built dist) with SLUICE_CPU_ISA=isa. */
function withIsa(isa: string, source: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['-e', source, dist], { encoding: 'utf8', env: { ...process.env, SLUICE_CPU_ISA: isa } });
  return { status: r.status, stdout: r.stdout.trim(), stderr: r.stderr };
}

describe('cpu kernel path', () => {
  it('is the one SLUICE_CPU_ISA names, else the best this CPU runs', () => {
    const { path } = cpuKernelPath();
    const want = process.env.SLUICE_CPU_ISA;
    if (want === 'avx512' || want === 'avx512bf16') expect(path).toBe(want);
    else if (want === 'avx2') expect(['avx2', 'generic']).toContain(path);
    else expect(['avx512bf16', 'avx512', 'avx2', 'generic']).toContain(path);
  });

  it('SLUICE_CPU_ISA=avx2 forces the baseline in a fresh process', () => {
    const r = withIsa('avx2', "const k = require(process.argv[1]); console.log(k.cpuKernelPath().path)");
    expect(r.status).toBe(0);
    expect(['avx2', 'generic']).toContain(r.stdout);
  });

  it('an unknown SLUICE_CPU_ISA fails backend creation with a KernelError naming the variable', () => {
    const r = withIsa('sse9', `const k = require(process.argv[1]);
      try { k.getBackend('cpu'); console.log('created'); } catch (e) { console.log(e.code + ' ' + e.message); }`);
    expect(r.stdout).toBe("E_BACKEND getBackend: SLUICE_CPU_ISA must be auto, avx2, avx512 or avx512bf16, got 'sse9'");
  });
});
