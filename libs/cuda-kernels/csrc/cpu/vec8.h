// The 8-lane float vector the baseline kernels are written over (gemm_kernel.h, attention_kernel.h): AVX2 + FMA
// under x86-64-v3, pairs of SSE registers otherwise. Include only from files built with the base flags.
#pragma once

#include <cstdint>
#include <cstring>

#include "cpu/simd.h"

namespace sluice {
namespace {  // internal to each including file, so no copy built with other flags can stand in for it

struct V8 {
  using vec = v8f;
  static constexpr int W = 8;
  static constexpr int kMR = 3, kNR = 4, kNRSmall = 4;  // 12 accumulators of 16 registers
  static vec zero() { return splat8(0.f); }
  static vec splat(float x) { return splat8(x); }
  static vec load(const float* p) { return load8(p); }
  static vec load(const uint16_t* p) {
#if defined(__AVX2__)
    // one widening load; the portable load8_bf16 compiles to two 128-bit halves
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return reinterpret_cast<vec>(_mm256_slli_epi32(w, 16));
#else
    return load8_bf16(p);
#endif
  }
  template <class T>
  static vec load_tail(const T* p, int n) {
    T buf[8] = {};
    std::memcpy(buf, p, n * sizeof(T));
    return load(buf);
  }
  static void store(float* p, vec v) { store8(p, v); }
  static void store_tail(float* p, vec v, int n) { std::memcpy(p, &v, n * sizeof(float)); }
  static vec fma(vec a, vec b, vec acc) { return fma8(a, b, acc); }
  static float hsum(vec v) { return hsum8(v); }
  static float hmax(vec v) {
    float m = v[0];
    for (int i = 1; i < 8; i++) m = m > v[i] ? m : v[i];
    return m;
  }
  // Lane j = the sum of a[j]'s lanes, by a fixed tree (halves of pairs, then pairs of lanes); hsum8 of each
  // where AVX2 is missing.
  static vec transpose_sum(const vec* a) {
#if defined(__AVX2__)
    __m256 b[4];
    for (int j = 0; j < 4; j++) {
      b[j] = _mm256_add_ps(_mm256_permute2f128_ps(a[2 * j], a[2 * j + 1], 0x20),
                           _mm256_permute2f128_ps(a[2 * j], a[2 * j + 1], 0x31));
    }
    const __m256 d0 = _mm256_add_ps(_mm256_unpacklo_ps(b[0], b[1]), _mm256_unpackhi_ps(b[0], b[1]));
    const __m256 d1 = _mm256_add_ps(_mm256_unpacklo_ps(b[2], b[3]), _mm256_unpackhi_ps(b[2], b[3]));
    const __m256 e = _mm256_add_ps(_mm256_shuffle_ps(d0, d1, 0x44), _mm256_shuffle_ps(d0, d1, 0xEE));
    // e's lane 4i + m holds a[2m + i]
    return _mm256_permutevar8x32_ps(e, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
#else
    vec out;
    for (int j = 0; j < 8; j++) out[j] = hsum8(a[j]);
    return out;
#endif
  }
};

}  // namespace
}  // namespace sluice
