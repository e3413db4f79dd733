// Shared test helpers: seeded random data, float64 references' error metric, and the backends under test.
import { cudaAvailable, getBackend, KernelError } from '../src';
import type { Backend, DeviceKind } from '../src';

/**
 * The backends a suite runs on: the comma list in SLUICE_KERNEL_DEVICES (e.g. "cpu,cuda" on the GPU
 * machine), or, unset, every backend this build can run. A requested device this build cannot run fails
 * the suite with the reason, so a GPU run never passes by quietly testing the CPU alone.
 */
export function selectDevices(requested: string | undefined, cuda: boolean): DeviceKind[] {
  if (requested === undefined || requested.trim() === '') return cuda ? ['cpu', 'cuda'] : ['cpu'];
  const list = requested.split(',').map((d) => d.trim());
  for (const d of list) {
    if (d !== 'cpu' && d !== 'cuda') {
      throw new Error(`SLUICE_KERNEL_DEVICES: '${d}' is not a device; use a comma list of cpu and cuda`);
    }
    if (d === 'cuda' && !cuda) {
      throw new Error('SLUICE_KERNEL_DEVICES asks for cuda, but this build has no CUDA backend (nvcc and cuBLAS '
        + 'at build time; SLUICE_CPU_ONLY unset) or no GPU is visible');
    }
  }
  return [...new Set(list as DeviceKind[])];
}

export function devices(): DeviceKind[] {
  return selectDevices(process.env.SLUICE_KERNEL_DEVICES, cudaAvailable());
}

export function backendFor(device: DeviceKind): Backend {
  return getBackend(device);
}

/** mulberry32: small, fast, seeded; tests draw fresh data per seed, never zeros. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  normal(): number {
    const u = Math.max(this.next(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  floats(n: number, scale = 1): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.normal() * scale;
    return a;
  }
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  }
}

/** ‖out − ref‖ / ‖ref‖ in float64. */
export function relErr(out: ArrayLike<number>, ref: ArrayLike<number>): number {
  expect(out.length).toBe(ref.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    num += (out[i] - ref[i]) ** 2;
    den += ref[i] ** 2;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

/** out = a · wᵀ (+ bias) in float64; a [M, K], w [N, K]. */
export function gemmRef(a: Float32Array, w: ArrayLike<number>, bias: Float32Array | undefined, M: number, N: number, K: number): Float64Array {
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = bias ? bias[n] : 0;
      for (let k = 0; k < K; k++) s += a[m * K + k] * w[n * K + k];
      out[m * N + n] = s;
    }
  }
  return out;
}

/** Asserts fn throws a KernelError with this code naming op and arg. */
export function expectKernelError(fn: () => unknown, code: string, op: string, arg: string): KernelError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(KernelError);
  const e = caught as KernelError;
  expect({ code: e.code, op: e.op, arg: e.arg }).toEqual({ code, op, arg });
  expect(e.message).toContain(op);
  if (arg) expect(e.message).toContain(arg);
  return e;
}

export const F32_TOL = 1e-5;

/** Head dims the CUDA attention kernels are instantiated for; others are E_UNSUPPORTED there (CPU runs any). */
export const CUDA_HEAD_DIMS = [64, 96, 128];

/** The f32 values of 16-bit float bit patterns (bf16: the top half of an f32; f16: IEEE half). */
export function halfToFloat(bits: Uint16Array, dtype: 'bf16' | 'f16'): Float32Array {
  if (dtype === 'bf16') return new Float32Array(Uint32Array.from(bits, (h) => h << 16).buffer);
  return Float32Array.from(bits, (h) => {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) return sign * mant * 2 ** -24;
    if (exp === 31) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
    return sign * (1 + mant / 1024) * 2 ** (exp - 15);
  });
}

/** f32 to bf16 bits, round to nearest even (finite inputs). */
export function toBf16(x: Float32Array): Uint16Array {
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  return Uint16Array.from(bits, (u) => (u + 0x7fff + ((u >>> 16) & 1)) >>> 16);
}

/** bf16 bits widened exactly to f32. */
export function fromBf16(h: Uint16Array): Float32Array {
  return new Float32Array(Uint32Array.from(h, (u) => u << 16).buffer);
}
