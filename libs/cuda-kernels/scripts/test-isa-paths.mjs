#!/usr/bin/env node
// Runs the kernel-path suites (cpu-isa, batch invariance, GEMM, attention, bf16 KV cache) again under every CPU kernel path this machine runs
// other than the one `jest` just chose, so each path keeps its invariance (SLUICE_CPU_ISA, read at load).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const probe = (isa) => spawnSync(process.execPath, ['-e', "console.log(require('./dist').cpuKernelPath().path)"],
  { cwd: pkgDir, encoding: 'utf8', env: { ...process.env, SLUICE_CPU_ISA: isa } });
const auto = probe('auto').stdout.trim();
for (const isa of ['avx2', 'avx512', 'avx512bf16']) {
  const p = probe(isa);
  if (p.status !== 0 || p.stdout.trim() === auto) continue;  // not runnable here, or already tested
  console.log(`test-isa-paths: SLUICE_CPU_ISA=${isa}`);
  const r = spawnSync('npx', ['jest', 'test/cpu-isa.test.ts', 'test/batch-invariance.test.ts', 'test/gemm.test.ts', 'test/attention.test.ts', 'test/kv-cache-bf16.test.ts'],
    { cwd: pkgDir, stdio: 'inherit', env: { ...process.env, SLUICE_CPU_ISA: isa } });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
