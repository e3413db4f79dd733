import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { getBackend } from '../src';
import { relErr, Rng } from './helpers';

// Workers run the compiled package (dist/), which nx builds before this target runs.
const entry = join(__dirname, '..', 'dist', 'index.js');

const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const { getBackend, KernelError } = require(workerData.entry);
const b = getBackend('cpu');
const { M, N, K, a, w } = workerData;
const out = b.empty([M, N], 'f32');
for (let i = 0; i < 3; i++) b.gemm(out, b.fromHost(a, [M, K], 'f32'), b.fromHost(w, [N, K], 'f32'));
let error;
try {
  b.gemm(out, b.fromHost(a, [M, K], 'f32'), b.fromHost(a, [K, M], 'f32'));
} catch (e) {
  error = { isKernelError: e instanceof KernelError, code: e.code, op: e.op, arg: e.arg };
}
parentPort.postMessage({ out: b.toHost(out), error, same: getBackend('cpu') === b });
`;

function runWorker(data: object): Promise<{ out: Float32Array; error: Record<string, unknown>; same: boolean; exitCode: number }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerSource, { eval: true, workerData: { entry, ...data } });
    let message: { out: Float32Array; error: Record<string, unknown>; same: boolean } | undefined;
    worker.on('message', (m) => (message = m));
    worker.on('error', reject);
    worker.on('exit', (exitCode) => (message ? resolve({ ...message, exitCode }) : reject(new Error(`worker exited ${exitCode} without a result`))));
  });
}

// A separate Node process terminates workers while they run native ops (allocations, GEMMs, copies to host), at
// staggered delays; an error node-addon-api cannot throw into a terminating worker must not abort that process.
const terminatorSource = `
const { Worker } = require('node:worker_threads');
const [entry, rounds] = [process.argv[1], Number(process.argv[2])];
const loop = \`
const { parentPort, workerData } = require('node:worker_threads');
const b = require(workerData.entry).getBackend('cpu');
const [M, N, K] = [64, 1024, 1024];
const a = new Float32Array(M * K).fill(0.5);
const w = b.fromHost(new Float32Array(N * K).fill(0.25), [N, K], 'f32');
parentPort.postMessage('ready');
for (;;) {
  const out = b.empty([M, N], 'f32');
  b.gemm(out, b.fromHost(a, [M, K], 'f32'), w);
  b.toHost(out);
}\`;
(async () => {
  for (let i = 0; i < rounds; i++) {
    const worker = new Worker(loop, { eval: true, workerData: { entry } });
    await new Promise((resolve) => worker.once('message', resolve));
    await new Promise((resolve) => setTimeout(resolve, 1 + (i * 7) % 23));
    const code = await worker.terminate();
    if (code !== 1) throw new Error('round ' + i + ': terminate() resolved ' + code);
  }
  console.log('survived ' + rounds + ' terminations');
})();
`;

describe('worker_threads', () => {
  it('loads the addon and runs ops in several workers at once, then exits cleanly', async () => {
    expect(existsSync(entry)).toBe(true);
    const [M, N, K] = [7, 33, 65];
    const jobs = [1, 2, 3].map((seed) => {
      const rng = new Rng(seed);
      return { M, N, K, a: rng.floats(M * K), w: rng.floats(N * K) };
    });
    const results = await Promise.all(jobs.map(runWorker));
    const b = getBackend('cpu');
    results.forEach((r, i) => {
      const ref = b.empty([M, N], 'f32');
      b.gemm(ref, b.fromHost(jobs[i].a, [M, K], 'f32'), b.fromHost(jobs[i].w, [N, K], 'f32'));
      expect(relErr(r.out, b.toHost(ref) as Float32Array)).toBe(0);
      expect(r.error).toEqual({ isKernelError: true, code: 'E_SHAPE', op: 'gemm', arg: 'w' });
      expect(r.same).toBe(true);
      expect(r.exitCode).toBe(0);
    });
    // The main thread's backend is unaffected by the workers' teardown.
    const again = b.empty([M, N], 'f32');
    b.gemm(again, b.fromHost(jobs[0].a, [M, K], 'f32'), b.fromHost(jobs[0].w, [N, K], 'f32'));
    expect(b.toHost(again)).toEqual(results[0].out);
  });

  it('worker.terminate() during native ops ends the worker, not the process', () => {
    const rounds = 20;
    const child = spawnSync(process.execPath, ['-e', terminatorSource, entry, String(rounds)], { encoding: 'utf8' });
    expect({ status: child.status, signal: child.signal, stderr: child.stderr, stdout: child.stdout.trim() })
      .toEqual({ status: 0, signal: null, stderr: '', stdout: `survived ${rounds} terminations` });
  }, 120_000);
});
