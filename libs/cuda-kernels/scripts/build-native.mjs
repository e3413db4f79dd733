#!/usr/bin/env node
// Builds the native addon with cmake-js into build/Release, skipping the build when the sources,
// the build options and the toolchain (compiler, nvcc, CMake versions) are unchanged since the last successful build.
// SLUICE_CPU_ONLY=1 forces a CPU-only build; SLUICE_CUDA=1 requires the CUDA backend (no nvcc or cuBLAS: failure);
// SLUICE_CUBLAS_ROOT points at a cuBLAS outside the toolkit; SLUICE_CUDA_ARCHS picks the GPU architectures.
// Any failure exits non-zero with the reason.
import { createHash } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const buildDir = join(pkgDir, 'build');
const addonPath = join(buildDir, 'Release', 'sluice_kernels.node');
const stampPath = join(buildDir, '.sluice-build.sha256');
const truthy = (v) => ['1', 'true', 'on', 'yes'].includes(String(v ?? '').toLowerCase());
const cpuOnly = truthy(process.env.SLUICE_CPU_ONLY);
const requireCuda = truthy(process.env.SLUICE_CUDA);

function fail(reason) {
  console.error(`build-native: ${reason}`);
  process.exit(1);
}

function listFiles(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listFiles(p));
    else out.push(p);
  }
  return out;
}

// The first line a tool prints for --version, or 'none' where it is not found: part of the stamp, so a build
// made where nvcc (or another compiler) was missing or different is never reused where it is present.
function toolVersion(cmd) {
  const r = spawnSync(cmd, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return 'none';
  return r.stdout.trim().split('\n').filter((l) => /version|release|\d+\.\d+/i.test(l)).join(' | ');
}

function toolchain() {
  const env = process.env;
  return {
    cmake: toolVersion('cmake'),
    cxx: toolVersion(env.CXX || 'c++'),
    nvcc: cpuOnly ? 'unused' : toolVersion(env.CUDACXX || 'nvcc'),
    cublasRoot: env.SLUICE_CUBLAS_ROOT ?? '',
    cudaArchs: env.SLUICE_CUDA_ARCHS ?? '',
  };
}

function sourceHash() {
  const h = createHash('sha256');
  h.update(JSON.stringify({
    cpuOnly, requireCuda, arch: process.arch, platform: process.platform, native: process.env.SLUICE_NATIVE_ARCH ?? '',
    node: process.versions.node, toolchain: toolchain(),
  }));
  for (const file of [join(pkgDir, 'CMakeLists.txt'), ...listFiles(join(pkgDir, 'csrc'))]) {
    h.update(relative(pkgDir, file));
    h.update(readFileSync(file));
  }
  return h.digest('hex');
}

const hash = sourceHash();
if (existsSync(addonPath) && existsSync(stampPath) && readFileSync(stampPath, 'utf8').trim() === hash) {
  console.log('build-native: up to date');
  process.exit(0);
}

const probe = spawnSync('cmake', ['--version'], { encoding: 'utf8' });
if (probe.error || probe.status !== 0) fail('cmake was not found on PATH; install CMake 3.20 or newer (e.g. apt-get install cmake).');

let cmakeJs;
try {
  cmakeJs = createRequire(join(pkgDir, 'package.json')).resolve('cmake-js/bin/cmake-js');
} catch {
  fail('cmake-js is not installed; run `npm ci` at the repository root first.');
}

mkdirSync(buildDir, { recursive: true });
const common = ['--directory', pkgDir, '--out', buildDir, '--config', 'Release'];
// Configure every time the inputs changed, so changed options (SLUICE_CPU_ONLY) reach the CMake cache.
const configure = [
  cmakeJs, 'configure', ...common,
  `--CDNODE_EXECUTABLE=${process.execPath}`,
  `--CDSLUICE_CPU_ONLY=${cpuOnly ? 'ON' : 'OFF'}`,
  `--CDSLUICE_NATIVE_ARCH=${process.env.SLUICE_NATIVE_ARCH ? 'ON' : 'OFF'}`,
  `--CDSLUICE_REQUIRE_CUDA=${requireCuda ? 'ON' : 'OFF'}`,
  ...(process.env.SLUICE_CUBLAS_ROOT ? [`--CDSLUICE_CUBLAS_ROOT=${process.env.SLUICE_CUBLAS_ROOT}`] : []),
  ...(process.env.SLUICE_CUDA_ARCHS ? [`--CDSLUICE_CUDA_ARCHS=${process.env.SLUICE_CUDA_ARCHS}`] : []),
];
const build = [cmakeJs, 'build', ...common, '--parallel', String(Math.max(1, Math.min(8, availableParallelism())))];
// The sources a failed build could not compile, named from Ninja's `FAILED: <object>` lines.
function failedSources(output) {
  return [...output.matchAll(/^FAILED: (\S+)/gm)]
    .map((m) => m[1].replace(/CMakeFiles\/[^/]+\.dir\//, '').replace(/\.o$/, ''))
    .filter((f) => /\.(cu|cc|cpp)$/.test(f));
}

// Runs cmake-js, streaming its output and keeping a copy to name what failed.
function runCmakeJs(args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: pkgDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => { output += d; process.stdout.write(d); });
    child.stderr.on('data', (d) => { output += d; process.stderr.write(d); });
    child.on('error', (err) => fail(`could not run cmake-js: ${err.message}`));
    child.on('close', (status) => resolve({ status, output }));
  });
}

console.log(`build-native: building the native op set${cpuOnly ? ' (CPU only)' : ''}`);
for (const args of [configure, build]) {
  const { status, output } = await runCmakeJs(args);
  if (status === 0) continue;
  const sources = failedSources(output);
  const cuda = sources.filter((f) => f.endsWith('.cu'));
  const cxx = sources.filter((f) => !f.endsWith('.cu'));
  const reasons = [];
  if (cxx.length > 0) reasons.push(`the C++ compiler could not compile ${cxx.join(', ')}`);
  if (cuda.length > 0) {
    reasons.push(`nvcc could not compile ${cuda.join(', ')} (every CUDA kernel is compiled wherever nvcc is found, `
      + 'so a CUDA break fails the build without a GPU too; SLUICE_CPU_ONLY=1 builds the CPU backend alone)');
  }
  if (reasons.length > 0) fail(`${reasons.join('; ')}. See the errors above.`);
  if (requireCuda && args[1] === 'configure') {
    fail('SLUICE_CUDA=1 asks for the CUDA backend and it cannot be built here (see the "sluice:" error above); '
      + 'unset SLUICE_CUDA for a CPU build.');
  }
  fail(`cmake-js ${args[1]} failed (see the output above); a C++17 compiler and CMake >= 3.20 are required. `
    + 'Set SLUICE_CPU_ONLY=1 to build without the CUDA backend.');
}
if (!existsSync(addonPath)) fail(`the build finished but ${relative(pkgDir, addonPath)} is missing.`);
if (requireCuda) {
  // Belt and braces: the addon itself must say it has the CUDA backend before the build counts as done.
  const built = spawnSync(process.execPath, ['-e', `process.stdout.write(String(require(${JSON.stringify(addonPath)}).cudaBuilt))`], { encoding: 'utf8' });
  if (built.stdout !== 'true') fail(`SLUICE_CUDA=1 but the built addon has no CUDA backend (cudaBuilt=${built.stdout || built.stderr.trim()}).`);
}
writeFileSync(stampPath, hash + '\n');
console.log(`build-native: built ${relative(pkgDir, addonPath)}`);
