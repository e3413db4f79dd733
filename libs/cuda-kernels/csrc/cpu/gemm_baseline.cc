// The GEMM over 8-lane vectors, compiled with the build's base flags (AVX2 + FMA under x86-64-v3).
#include "cpu/gemm_dispatch.h"
#include "cpu/fma_peak.h"
#include "cpu/gemm_kernel.h"
#include "cpu/vec8.h"

namespace sluice {
void cpu_gemm_baseline(ThreadPool& pool, float* out, const float* a, const void* w, bool w_bf16, const float* bias,
                       int64_t M, int64_t N, int64_t K) {
  if (w_bf16) GemmKernel<V8, uint16_t>::run(pool, out, a, static_cast<const uint16_t*>(w), bias, M, N, K);
  else GemmKernel<V8, float>::run(pool, out, a, static_cast<const float*>(w), bias, M, N, K);
}

// 12 chains: more than FMA latency x FMA pipes (4 x 2 on Zen) in flight, within the register file.
double fma_peak_baseline(double seconds) { return fma_loop_flops<V8, 12>(seconds); }

}  // namespace sluice
