// The GEMM entry: the kernel set cpu_isa() chose at load.
#include "cpu/cpu_backend.h"
#include "cpu/gemm_dispatch.h"
#include "cpu/isa.h"

namespace sluice {

void cpu_gemm(ThreadPool& pool, float* out, const float* a, const void* w, bool w_bf16, const float* bias, int64_t M,
              int64_t N, int64_t K) {
#ifdef SLUICE_CPU_AVX512
  if (cpu_isa() != CpuIsa::Baseline) {
    return cpu_gemm_avx512(pool, out, a, w, w_bf16, cpu_isa() == CpuIsa::Avx512Bf16, bias, M, N, K);
  }
#endif
  cpu_gemm_baseline(pool, out, a, w, w_bf16, bias, M, N, K);
}

}  // namespace sluice
