// llama.cpp for the peer benchmark, built from the source bundled in the node-llama-cpp npm package (a git bundle
// of the llama.cpp release it wraps). Fetched on demand with `npm pack` (tarball only: no dependencies, no install
// scripts, none of its prebuilt binaries) into .cache/llama-cpp/, so it is never part of `npm ci` or the product.
// Usage: node bench/peer/llama-cpp.mjs   (prints the path of llama-batched-bench, building it if needed)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const NODE_LLAMA_CPP = '3.22.1';
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = join(root, '.cache', 'llama-cpp', NODE_LLAMA_CPP);

function run(cmd, args, cwd) {
  execFileSync(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
}

/** The llama.cpp release tag the package bundles. */
export function llamaCppTag() {
  const info = join(dir, 'package', 'llama', 'llama.cpp.info.json');
  return existsSync(info) ? JSON.parse(readFileSync(info, 'utf8')).tag : 'unknown';
}

/** Path of llama-batched-bench, built for this CPU (-march=native through GGML_NATIVE) on first use. */
export function ensureLlamaBatchedBench() {
  const bin = join(dir, 'build', 'bin', 'llama-batched-bench');
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  const tgz = join(dir, `node-llama-cpp-${NODE_LLAMA_CPP}.tgz`);
  if (!existsSync(tgz)) run('npm', ['pack', `node-llama-cpp@${NODE_LLAMA_CPP}`, '--pack-destination', dir, '--silent'], dir);
  rmSync(join(dir, 'package'), { recursive: true, force: true });
  run('tar', ['xzf', tgz, '-C', dir, 'package/llama/gitRelease.bundle', 'package/llama/llama.cpp.info.json'], dir);
  rmSync(join(dir, 'src'), { recursive: true, force: true });
  run('git', ['clone', '--quiet', join(dir, 'package', 'llama', 'gitRelease.bundle'), join(dir, 'src')], dir);
  run('cmake', ['-S', 'src', '-B', 'build', '-DCMAKE_BUILD_TYPE=Release', '-DGGML_NATIVE=ON', '-DLLAMA_CURL=OFF',
    '-DLLAMA_BUILD_TESTS=OFF', '-DLLAMA_BUILD_SERVER=OFF', '-DBUILD_SHARED_LIBS=OFF'], dir);
  run('cmake', ['--build', 'build', '--target', 'llama-batched-bench', '-j', String(availableParallelism())], dir);
  if (!existsSync(bin)) throw new Error(`llama.cpp built, but ${bin} is missing`);
  return bin;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(ensureLlamaBatchedBench());
