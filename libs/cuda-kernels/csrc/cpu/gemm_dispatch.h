// One entry per instruction set (gemm_baseline.cc, gemm_avx512.cc); cpu_gemm picks by cpu_isa().
#pragma once

#include <cstdint>

#include "cpu/thread_pool.h"

namespace sluice {

void cpu_gemm_baseline(ThreadPool& pool, float* out, const float* a, const void* w, bool w_bf16, const float* bias,
                       int64_t M, int64_t N, int64_t K);
// bf16_dot: bf16 weights meet bf16-rounded activations in AVX512_BF16 pair dot products (f32 accumulation).
void cpu_gemm_avx512(ThreadPool& pool, float* out, const float* a, const void* w, bool w_bf16, bool bf16_dot,
                     const float* bias, int64_t M, int64_t N, int64_t K);
// FMAs one thread retires per second in independent chains of the set's vectors, for `seconds`, as FLOP/s.
double fma_peak_baseline(double seconds);
double fma_peak_avx512(double seconds);

}  // namespace sluice
