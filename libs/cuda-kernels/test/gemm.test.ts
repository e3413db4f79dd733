import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuKernelPath } from '../src';
import { backendFor, devices, expectKernelError, F32_TOL, fromBf16, gemmRef, halfToFloat, relErr, Rng, toBf16 as bf16Bits } from './helpers';
import { safetensorsFile, toBf16, toF16 } from './safetensors-writer';

describe.each(devices())('gemm on %s', (device) => {
  const b = backendFor(device);

  it.each([
    [1, 1, 1],
    [1, 7, 5],
    [3, 13, 17],
    [2, 6, 8],
    [5, 37, 129],
    [64, 96, 513],
    [130, 61, 1030],
    [33, 257, 100],
    [4, 9, 33],
    [8, 13, 64],
    [20, 7, 4100],
  ])('matches the float64 reference (M=%i, N=%i, K=%i), with and without bias', (M, N, K) => {
    const rng = new Rng(M * 1000 + N * 10 + K);
    const a = rng.floats(M * K);
    const w = rng.floats(N * K);
    const bias = rng.floats(N);
    const at = b.fromHost(a, [M, K], 'f32');
    const wt = b.fromHost(w, [N, K], 'f32');
    const out = b.empty([M, N], 'f32');
    b.gemm(out, at, wt);
    expect(relErr(b.toHost(out) as Float32Array, gemmRef(a, w, undefined, M, N, K))).toBeLessThan(F32_TOL);
    b.gemm(out, at, wt, b.fromHost(bias, [N], 'f32'));
    expect(relErr(b.toHost(out) as Float32Array, gemmRef(a, w, bias, M, N, K))).toBeLessThan(F32_TOL);
  });

  it('handles M = 0 (empty batch) and K = 0 (bias only)', () => {
    const out = b.empty([0, 4], 'f32');
    b.gemm(out, b.empty([0, 3], 'f32'), b.fromHost(new Rng(1).floats(12), [4, 3], 'f32'));
    const bias = new Rng(2).floats(4);
    const out2 = b.empty([2, 4], 'f32');
    b.gemm(out2, b.empty([2, 0], 'f32'), b.empty([4, 0], 'f32'), b.fromHost(bias, [4], 'f32'));
    expect(b.toHost(out2)).toEqual(Float32Array.from([...bias, ...bias]));
  });

  it('writes through narrowed views of the output', () => {
    const rng = new Rng(9);
    const [M, N, K] = [6, 10, 24];
    const a = rng.floats(M * K);
    const w = rng.floats(N * K);
    const big = b.fromHost(rng.floats(20 * N), [20, N], 'f32');
    b.gemm(b.narrow(big, 0, M), b.fromHost(a, [M, K], 'f32'), b.fromHost(w, [N, K], 'f32'));
    const got = (b.toHost(big) as Float32Array).subarray(0, M * N);
    expect(relErr(got, gemmRef(a, w, undefined, M, N, K))).toBeLessThan(F32_TOL);
  });

  // CPU widens 16-bit weights to f32 at load; CUDA keeps them and computes in them (activations of the same dtype).
  it('runs bf16 and f16 weights from a checkpoint within 2e-2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-gemm-'));
    try {
      const rng = new Rng(11);
      const [M, N, K] = [9, 40, 72];
      const a = rng.floats(M * K);
      const w = rng.floats(N * K);
      const path = join(dir, 'w.safetensors');
      writeFileSync(path, safetensorsFile({ wb: { dtype: 'BF16', shape: [N, K], data: w }, wh: { dtype: 'F16', shape: [N, K], data: w } }));
      const tensors = b.loadSafetensors(path);
      const ref = gemmRef(a, w, undefined, M, N, K);
      for (const [name, half, encode] of [['wb', 'bf16', toBf16], ['wh', 'f16', toF16]] as const) {
        const wt = tensors.get(name)!;
        expect(wt.dtype).toBe(device === 'cpu' ? 'f32' : half);
        const out = b.empty([M, N], wt.dtype);
        if (wt.dtype === 'f32') {
          b.gemm(out, b.fromHost(a, [M, K], 'f32'), wt);
          expect(relErr(b.toHost(out) as Float32Array, ref)).toBeLessThan(2e-2);
        } else {
          b.gemm(out, b.fromHost(Uint16Array.from(a, encode), [M, K], half), wt);
          expect(relErr(halfToFloat(b.toHost(out) as Uint16Array, half), ref)).toBeLessThan(2e-2);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  if (device === 'cpu') {
    it.each([[1, 40, 72], [3, 17, 1030], [9, 40, 4100], [70, 13, 33]])(
      'takes bf16 weights with f32 activations (M=%i, N=%i, K=%i): the f32 result on the widened weights', (M, N, K) => {
        const rng = new Rng(M + N + K);
        const a = rng.floats(M * K);
        const wb = bf16Bits(rng.floats(N * K));
        const bias = rng.floats(N);
        const o16 = b.empty([M, N], 'f32');
        b.gemm(o16, b.fromHost(a, [M, K], 'f32'), b.fromHost(wb, [N, K], 'bf16'), b.fromHost(bias, [N], 'f32'));
        if (cpuKernelPath().path === 'avx512bf16') {
          // bf16 pair dot products: activations rounded to bf16, products exact, f32 accumulation.
          const ref = gemmRef(fromBf16(bf16Bits(a)), fromBf16(wb), bias, M, N, K);
          expect(relErr(b.toHost(o16) as Float32Array, ref)).toBeLessThan(F32_TOL);
        } else {
          // Widened exactly and run through the same chains as f32 weights: bitwise the f32 result.
          const o32 = b.empty([M, N], 'f32');
          b.gemm(o32, b.fromHost(a, [M, K], 'f32'), b.fromHost(fromBf16(wb), [N, K], 'f32'), b.fromHost(bias, [N], 'f32'));
          expect(b.toHost(o16)).toEqual(b.toHost(o32));
        }
      });

    it('keeps bf16 tensors bf16 when loaded asStored, zero-copy', () => {
      const dir = mkdtempSync(join(tmpdir(), 'sluice-gemm-'));
      try {
        const w = new Rng(12).floats(8 * 16);
        const path = join(dir, 'w.safetensors');
        writeFileSync(path, safetensorsFile({ wb: { dtype: 'BF16', shape: [8, 16], data: w } }));
        const wt = b.loadSafetensors(path, { asStored: true }).get('wb')!;
        expect(wt.dtype).toBe('bf16');
        expect(b.toHost(wt)).toEqual(bf16Bits(w));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('rejects mismatched shapes and dtypes naming the argument', () => {
    const a = b.fromHost(new Rng(3).floats(6), [2, 3], 'f32');
    const w = b.fromHost(new Rng(4).floats(12), [4, 3], 'f32');
    expectKernelError(() => b.gemm(b.empty([2, 4], 'f32'), a, b.fromHost(new Rng(5).floats(8), [4, 2], 'f32')), 'E_SHAPE', 'gemm', 'w');
    expectKernelError(() => b.gemm(b.empty([2, 5], 'f32'), a, w), 'E_SHAPE', 'gemm', 'out');
    expectKernelError(() => b.gemm(b.empty([2, 4], 'f32'), a, w, b.empty([3], 'f32')), 'E_SHAPE', 'gemm', 'bias');
    expectKernelError(() => b.gemm(b.empty([2, 4], 'i32'), a, w), 'E_DTYPE', 'gemm', 'out');
    expectKernelError(() => b.gemm(b.empty([2, 4], 'f32'), b.view(a, [6]), w), 'E_SHAPE', 'gemm', 'a');
  });
});
