import type { Backend, Tensor } from '@sluice/cuda-kernels';

/** f32 values to bf16 bits, round to nearest even (NaN stays NaN). */
export function f32ToBf16(x: Float32Array): Uint16Array {
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < bits.length; i++) {
    const u = bits[i];
    out[i] = (u & 0x7fffffff) > 0x7f800000 ? (u >>> 16) | 0x40 : (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** bf16 bits widened exactly to f32. */
export function bf16ToF32(h: Uint16Array): Float32Array {
  const out = new Uint32Array(h.length);
  for (let i = 0; i < h.length; i++) out[i] = h[i] << 16;
  return new Float32Array(out.buffer);
}

/** `t` in `dtype` (f32 or bf16), converted on the host once at load; `t` itself when it already is, else freed. */
export function toWeightDType(backend: Backend, t: Tensor, dtype: 'f32' | 'bf16'): Tensor {
  if (t.dtype === dtype) return t;
  if (t.dtype !== 'f32' && t.dtype !== 'bf16') throw new Error(`cannot convert a ${t.dtype} weight to ${dtype} on the host`);
  const host = backend.toHost(t);
  const out = dtype === 'bf16' ? f32ToBf16(host as Float32Array) : bf16ToF32(host as Uint16Array);
  const converted = backend.fromHost(out, t.shape, dtype);
  t.free();
  return converted;
}
