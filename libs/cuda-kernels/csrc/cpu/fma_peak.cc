#include <stdexcept>
#include <thread>
#include <vector>

#include "cpu/gemm_dispatch.h"
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

}  // namespace sluice
