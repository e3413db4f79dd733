// The GEMM over 8-lane vectors, compiled with the build's base flags (AVX2 + FMA under x86-64-v3).
#include "cpu/gemm_dispatch.h"
#include "cpu/fma_peak.h"
#include "cpu/gemm_kernel.h"
#include "cpu/simd.h"

namespace sluice {
namespace {

struct V8 {
  using vec = v8f;
  static constexpr int W = 8;
  static constexpr int kMR = 3, kNR = 4, kNRSmall = 4;  // 12 accumulators of 16 registers
  static vec zero() { return splat8(0.f); }
  static vec splat(float x) { return splat8(x); }
  static vec load(const float* p) { return load8(p); }
  static vec load(const uint16_t* p) { return load8_bf16(p); }
  template <class T>
  static vec load_tail(const T* p, int n) {
    T buf[8] = {};
    std::memcpy(buf, p, n * sizeof(T));
    return load(buf);
  }
  static vec fma(vec a, vec b, vec acc) { return fma8(a, b, acc); }
  static float hsum(vec v) { return hsum8(v); }
};

}  // namespace

void cpu_gemm_baseline(ThreadPool& pool, float* out, const float* a, const void* w, bool w_bf16, const float* bias,
                       int64_t M, int64_t N, int64_t K) {
  if (w_bf16) GemmKernel<V8, uint16_t>::run(pool, out, a, static_cast<const uint16_t*>(w), bias, M, N, K);
  else GemmKernel<V8, float>::run(pool, out, a, static_cast<const float*>(w), bias, M, N, K);
}

// 12 chains: more than FMA latency x FMA pipes (4 x 2 on Zen) in flight, within the register file.
double fma_peak_baseline(double seconds) { return fma_loop_flops<V8, 12>(seconds); }

}  // namespace sluice
