// 8-wide float vectors through GCC/Clang vector extensions: AVX2 registers under -march=x86-64-v3,
// pairs of SSE registers otherwise, so one source serves every build target.
#pragma once

#include <cstdint>
#include <cstring>
#if defined(__AVX__)
#include <immintrin.h>
#endif

namespace sluice {

typedef float v8f __attribute__((vector_size(32)));

inline v8f load8(const float* p) {
  v8f v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline void store8(float* p, v8f v) { std::memcpy(p, &v, sizeof(v)); }
inline v8f splat8(float x) { return v8f{x, x, x, x, x, x, x, x}; }
// acc + a · b, one rounding where the target has FMA: spelled out so no kernel depends on the compiler's contraction.
inline v8f fma8(v8f a, v8f b, v8f acc) {
#if defined(__FMA__)
  return _mm256_fmadd_ps(a, b, acc);
#else
  return acc + a * b;
#endif
}
// 8 bf16 values widened exactly to f32 (a bf16 is the top half of an f32).
inline v8f load8_bf16(const uint16_t* p) {
  typedef uint16_t u16x8 __attribute__((vector_size(16)));
  typedef uint32_t u32x8 __attribute__((vector_size(32)));
  u16x8 h;
  std::memcpy(&h, p, sizeof(h));
  const u32x8 bits = __builtin_convertvector(h, u32x8) << 16;
  v8f v;
  std::memcpy(&v, &bits, sizeof(v));
  return v;
}
inline float hsum8(v8f v) { return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7])); }

// Dot product of two float rows of length n.
inline float dot_f32(const float* a, const float* b, int64_t n) {
  v8f acc0 = splat8(0.f), acc1 = splat8(0.f);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 += load8(a + i) * load8(b + i);
    acc1 += load8(a + i + 8) * load8(b + i + 8);
  }
  for (; i + 8 <= n; i += 8) acc0 += load8(a + i) * load8(b + i);
  float s = hsum8(acc0 + acc1);
  for (; i < n; i++) s += a[i] * b[i];
  return s;
}

// y = y * alpha + x * beta over n floats.
inline void scale_add_f32(float* y, float alpha, const float* x, float beta, int64_t n) {
  const v8f va = splat8(alpha), vb = splat8(beta);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) store8(y + i, load8(y + i) * va + load8(x + i) * vb);
  for (; i < n; i++) y[i] = y[i] * alpha + x[i] * beta;
}

}  // namespace sluice
