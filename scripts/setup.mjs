#!/usr/bin/env node
// One-step setup for a fresh clone, run before `npm test` and `npm run demo`:
// installs dependencies when node_modules is missing or older than package-lock.json,
// then runs each workspace's own `setup` script (native build, service jars, tiny model).
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stampPath = join(root, 'node_modules', '.sluice-lock.sha256');

function fail(message) {
  console.error(`setup: ${message}`);
  process.exit(1);
}

const [major] = process.versions.node.split('.').map(Number);
if (major < 20) fail(`Node ${process.versions.node} is too old: install Node 20 or newer.`);

function run(cmd, args) {
  try {
    execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });
  } catch {
    fail(`\`${cmd} ${args.join(' ')}\` failed (see the output above).`);
  }
}

const lockHash = createHash('sha256').update(readFileSync(join(root, 'package-lock.json'))).digest('hex');
const installed = existsSync(stampPath) ? readFileSync(stampPath, 'utf8').trim() : '';
if (installed !== lockHash) {
  console.log('setup: installing dependencies (npm ci)');
  run('npm', ['ci', '--no-audit', '--no-fund']);
  writeFileSync(stampPath, lockHash + '\n');
}

run('npm', ['run', 'setup', '--workspaces', '--if-present', '--silent']);
