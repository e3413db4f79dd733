// The 16-lane float vector the AVX-512 kernels are written over (gemm_avx512.cc, attention_avx512.cc).
// Include only from files built with the AVX-512 flags (CMakeLists.txt).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace sluice {
namespace {  // internal to each including file, so no copy built with these flags can stand in for a baseline one

struct V16 {
  using vec = __m512;
  static constexpr int W = 16;
  static constexpr int kMR = 4, kNR = 6, kNRSmall = 8;  // 24 accumulators of 32 registers
  static __mmask16 mask(int n) { return static_cast<__mmask16>((1u << n) - 1); }
  static vec zero() { return _mm512_setzero_ps(); }
  static vec splat(float x) { return _mm512_set1_ps(x); }
  static vec load(const float* p) { return _mm512_loadu_ps(p); }
  // bf16 is the top half of an f32: widen to 32 bits, shift into place.
  static vec widen(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }
  static vec load(const uint16_t* p) { return widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static vec load_tail(const float* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static vec load_tail(const uint16_t* p, int n) { return widen(_mm256_maskz_loadu_epi16(mask(n), p)); }
  static void store(float* p, vec v) { _mm512_storeu_ps(p, v); }
  static void store_tail(float* p, vec v, int n) { _mm512_mask_storeu_ps(p, mask(n), v); }
  static vec fma(vec a, vec b, vec acc) { return _mm512_fmadd_ps(a, b, acc); }
  // A fixed tree: halves, then quarters, then pairs.
  static float hsum(vec v) {
    const __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s4, _mm_movehdup_ps(s4)));
  }
  static float hmax(vec v) { return _mm512_reduce_max_ps(v); }  // exact in any order
  // A transpose sum of 16 vectors a[j], in stages a caller can run as it goes: with c[k] = sum4(sum2(a[4k],
  // a[4k+1]), sum2(a[4k+2], a[4k+3])), lane j of finish(c) = the sum of a[j]'s lanes, by a fixed tree (halves of
  // pairs, then quarters, then pairs of lanes).
  static vec sum2(vec a0, vec a1) {
    return _mm512_add_ps(_mm512_shuffle_f32x4(a0, a1, 0x44), _mm512_shuffle_f32x4(a0, a1, 0xEE));
  }
  static vec sum4(vec b0, vec b1) {
    return _mm512_add_ps(_mm512_shuffle_f32x4(b0, b1, 0x88), _mm512_shuffle_f32x4(b0, b1, 0xDD));
  }
  static vec finish(const vec* c) {
    const __m512 d0 = _mm512_add_ps(_mm512_unpacklo_ps(c[0], c[1]), _mm512_unpackhi_ps(c[0], c[1]));
    const __m512 d1 = _mm512_add_ps(_mm512_unpacklo_ps(c[2], c[3]), _mm512_unpackhi_ps(c[2], c[3]));
    const __m512 e = _mm512_add_ps(_mm512_shuffle_ps(d0, d1, 0x44), _mm512_shuffle_ps(d0, d1, 0xEE));
    // e's lane 4i + m holds a[4m + i]
    return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), e);
  }
};

}  // namespace
}  // namespace sluice
