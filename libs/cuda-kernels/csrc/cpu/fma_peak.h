// The FMA peak measured with a loop (independent chains, no loads), so peaks in benchmark records are measured,
// not derived from a CPU family's table.
#pragma once

#include <chrono>

namespace sluice {

// FLOP/s of one thread running CHAINS independent fma chains of vectors V for about `seconds`.
template <class V, int CHAINS>
double fma_loop_flops(double seconds) {
  typename V::vec acc[CHAINS];
  for (int i = 0; i < CHAINS; i++) acc[i] = V::splat(1.0f + i * 1e-3f);
  const typename V::vec m = V::splat(0.999999f), c = V::splat(1e-6f);  // converges to 1: no overflow, no denormals
  const auto t0 = std::chrono::steady_clock::now();
  double elapsed = 0;
  long long iterations = 0;
  while (elapsed < seconds) {
    for (int it = 0; it < 4096; it++) {
      for (int i = 0; i < CHAINS; i++) acc[i] = V::fma(acc[i], m, c);
    }
    iterations += 4096;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  float sink = 0;
  for (int i = 0; i < CHAINS; i++) sink += V::hsum(acc[i]);
  volatile float keep = sink;  // the chains' results are used, so the loop stays
  (void)keep;
  return 2.0 * V::W * CHAINS * static_cast<double>(iterations) / elapsed;
}

}  // namespace sluice
