#!/usr/bin/env node
// Builds the native addon with cmake-js into build/Release, skipping the build when the sources,
// the build options and the toolchain inputs are unchanged since the last successful build.
// SLUICE_CPU_ONLY=1 forces a CPU-only build; any failure exits non-zero with the reason.
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
const cpuOnly = ['1', 'true', 'on', 'yes'].includes(String(process.env.SLUICE_CPU_ONLY ?? '').toLowerCase());

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

function sourceHash() {
  const h = createHash('sha256');
  h.update(JSON.stringify({ cpuOnly, arch: process.arch, platform: process.platform, native: process.env.SLUICE_NATIVE_ARCH ?? '' }));
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
  fail(`cmake-js ${args[1]} failed (see the output above); a C++17 compiler and CMake >= 3.20 are required. `
    + 'Set SLUICE_CPU_ONLY=1 to build without the CUDA backend.');
}
if (!existsSync(addonPath)) fail(`the build finished but ${relative(pkgDir, addonPath)} is missing.`);
writeFileSync(stampPath, hash + '\n');
console.log(`build-native: built ${relative(pkgDir, addonPath)}`);
