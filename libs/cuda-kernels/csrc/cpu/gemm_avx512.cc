// The GEMM over 16-lane vectors, compiled with AVX-512 flags of its own (CMakeLists.txt) and run only when
// cpu_isa() chose AVX-512, so the addon still loads and runs on an AVX2-only CPU.
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "cpu/gemm_dispatch.h"
#include "cpu/fma_peak.h"
#include "cpu/gemm_kernel.h"
#include "cpu/vec16.h"

namespace sluice {
namespace {

// 32 bf16 of a and of w per step: lane l of vdpbf16ps adds the products of pair l (k ≡ 2l, 2l + 1 mod 32).
struct V32Bf16Pairs {
  using vec = __m512;
  static constexpr int W = 32;
  static constexpr int kMR = 4, kNR = 6, kNRSmall = 8;
  static vec zero() { return _mm512_setzero_ps(); }
  static __m512bh load(const uint16_t* p) { return reinterpret_cast<__m512bh>(_mm512_loadu_si512(p)); }
  static __m512bh load_tail(const uint16_t* p, int n) {
    return reinterpret_cast<__m512bh>(_mm512_maskz_loadu_epi16(static_cast<__mmask32>((1ull << n) - 1), p));
  }
  static vec fma(__m512bh a, __m512bh w, vec acc) { return _mm512_dpbf16_ps(acc, a, w); }
  static float hsum(vec v) { return V16::hsum(v); }
};

// Rows of a rounded to bf16 (round to nearest even), 16 at a time with a masked tail.
void round_rows_to_bf16(ThreadPool& pool, const float* a, uint16_t* dst, int64_t M, int64_t K) {
  pool.parallel_for(M, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, K)), [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; m++) {
      for (int64_t k = 0; k < K; k += 16) {
        const __mmask16 mask = K - k >= 16 ? 0xffff : static_cast<__mmask16>((1u << (K - k)) - 1);
        const __m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, a + m * K + k));
        _mm256_mask_storeu_epi16(dst + m * K + k, mask, reinterpret_cast<__m256i>(h));
      }
    }
  });
}

}  // namespace

void cpu_gemm_avx512(ThreadPool& pool, float* out, const float* a, const void* w, bool w_bf16, bool bf16_dot,
                     const float* bias, int64_t M, int64_t N, int64_t K) {
  const auto* w16 = static_cast<const uint16_t*>(w);
  if (w_bf16 && bf16_dot) {
    thread_local std::vector<uint16_t> a16;
    a16.resize(static_cast<size_t>(M * K));
    round_rows_to_bf16(pool, a, a16.data(), M, K);
    return GemmKernel<V32Bf16Pairs, uint16_t, uint16_t>::run(pool, out, a16.data(), w16, bias, M, N, K);
  }
  if (w_bf16) GemmKernel<V16, uint16_t>::run(pool, out, a, w16, bias, M, N, K);
  else GemmKernel<V16, float>::run(pool, out, a, static_cast<const float*>(w), bias, M, N, K);
}

// 12 chains: more than FMA latency x FMA pipes (4 x 2 on Zen) in flight, within the register file.
double fma_peak_avx512(double seconds) { return fma_loop_flops<V16, 12>(seconds); }

}  // namespace sluice
