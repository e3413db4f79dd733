// The machine's peaks, measured for benchmark records: the FMA loop per vector width and the read bandwidth.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

#include "cpu/simd.h"

#include "cpu/gemm_dispatch.h"
#include "cpu/host_memory.h"
#include "cpu/isa.h"

namespace sluice {

// GFLOP/s of each of `threads` threads running the fma loop of `lanes`-wide vectors at the same time.
std::vector<double> cpu_fma_peak(int lanes, int threads, double seconds) {
  double (*loop)(double) = nullptr;
  if (lanes == 8) loop = fma_peak_baseline;
#ifdef SLUICE_CPU_AVX512
  if (lanes == 16 && cpu_runs_avx512()) loop = fma_peak_avx512;
#endif
  if (!loop) throw std::runtime_error("no " + std::to_string(lanes) + "-lane FMA loop on this CPU or build (8, or 16 with AVX-512)");
  std::vector<double> out(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; t++) pool.emplace_back([&, t] { out[t] = loop(seconds) / 1e9; });
  for (auto& th : pool) th.join();
  return out;
}

// GB/s of `threads` threads summing disjoint slices of one buffer of `bytes` (already touched), best of 5 passes.
double cpu_read_bandwidth(int threads, size_t bytes) {
  const size_t n = bytes / sizeof(float) / 64 * 64;
  // Allocated as the backend allocates weights, so the limit is measured with the same pages.
  float* data = static_cast<float*>(host_alloc(n * sizeof(float)));
  if (!data) throw std::runtime_error("cannot allocate " + std::to_string(bytes) + " bytes");
  std::fill(data, data + n, 1.0f);
  std::vector<float> sums(threads);
  double best = 0;
  for (int pass = 0; pass < 5; pass++) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; t++) {
      pool.emplace_back([&, t] {
        const size_t b = n / threads * t / 64 * 64, e = t + 1 == threads ? n : n / threads * (t + 1) / 64 * 64;
        v8f acc[4] = {splat8(0.f), splat8(0.f), splat8(0.f), splat8(0.f)};
        for (size_t i = b; i < e; i += 32)
          for (int j = 0; j < 4; j++) acc[j] += load8(data + i + 8 * j);
        sums[t] = hsum8(acc[0] + acc[1] + acc[2] + acc[3]);
      });
    }
    for (auto& th : pool) th.join();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, n * sizeof(float) / s / 1e9);
  }
  volatile float keep = sums[0];  // the sums are used, so the reads stay
  (void)keep;
  std::free(data);
  return best;
}

}  // namespace sluice
