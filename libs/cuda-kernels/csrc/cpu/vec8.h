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
  // A transpose sum of 8 vectors a[j], in stages a caller can run as it goes: with d[k] = sum4(sum2(a[4k],
  // a[4k+1]), sum2(a[4k+2], a[4k+3])), lane j of finish(d) = the sum of a[j]'s lanes, by a fixed tree (halves of
  // pairs, then pairs of lanes). The portable forms move the same lanes as the AVX2 ones.
  static vec sum2(vec a0, vec a1) {
#if defined(__AVX2__)
    return _mm256_add_ps(_mm256_permute2f128_ps(a0, a1, 0x20), _mm256_permute2f128_ps(a0, a1, 0x31));
#else
    return vec{a0[0] + a0[4], a0[1] + a0[5], a0[2] + a0[6], a0[3] + a0[7],
               a1[0] + a1[4], a1[1] + a1[5], a1[2] + a1[6], a1[3] + a1[7]};
#endif
  }
  static vec sum4(vec b0, vec b1) {
#if defined(__AVX2__)
    return _mm256_add_ps(_mm256_unpacklo_ps(b0, b1), _mm256_unpackhi_ps(b0, b1));
#else
    return vec{b0[0] + b0[2], b1[0] + b1[2], b0[1] + b0[3], b1[1] + b1[3],
               b0[4] + b0[6], b1[4] + b1[6], b0[5] + b0[7], b1[5] + b1[7]};
#endif
  }
  static vec finish(const vec* d) {
#if defined(__AVX2__)
    const __m256 e = _mm256_add_ps(_mm256_shuffle_ps(d[0], d[1], 0x44), _mm256_shuffle_ps(d[0], d[1], 0xEE));
    // e's lane 4i + m holds a[2m + i]
    return _mm256_permutevar8x32_ps(e, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
#else
    const vec e = {d[0][0] + d[0][2], d[0][1] + d[0][3], d[1][0] + d[1][2], d[1][1] + d[1][3],
                   d[0][4] + d[0][6], d[0][5] + d[0][7], d[1][4] + d[1][6], d[1][5] + d[1][7]};
    return vec{e[0], e[4], e[1], e[5], e[2], e[6], e[3], e[7]};
#endif
  }
};

}  // namespace
}  // namespace sluice
