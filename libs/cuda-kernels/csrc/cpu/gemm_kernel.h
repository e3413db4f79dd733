// GEMM out[M,N] = a[M,K] · w[N,K]ᵀ (+ bias), a and out f32, w f32 or bf16 (widened exactly, f32 accumulation),
// written once over a vector type V (V::W lanes) and compiled per instruction set (gemm_avx2.cc, gemm_avx512.cc).
// Lanes run along k: a register tile holds MR rows of a by NR rows of w as MR x NR accumulators, each fed by
// contiguous loads of both rows (no packing, no transposes, no broadcasts).
// Batch invariance: out[m][n] = bias[n] + Σ over K blocks of kKC (fixed, whatever M) of V::hsum(lane l = fma chain
// over k ≡ l mod W in order, from 0, the tail zero-filled). That sequence does not depend on M, m's place in the
// batch, the tile shape, the loop order or the thread split, so a row's result never depends on its batch.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "cpu/thread_pool.h"

namespace sluice {

constexpr int64_t kKC = 2048;  // K block: its hsum cost is < 10% of the chain's FMAs, and 64 rows of a stay in L2
constexpr int64_t kMC = 64;    // M block of the batched order: 64 x 2048 floats of a is 512 KiB

// V: vec (the accumulator), W (k per step), zero(), load(const TA*|const TW*), load_tail(p, n), fma(a, w, acc),
// hsum(v); V::kMR x V::kNR is the batched tile, V::kNRSmall the width for the few-rows (decode) order.
template <class V, class TW, class TA = float>
struct GemmKernel {
  using vec = typename V::vec;
  struct Op {
    const TA* a;
    const TW* w;
    float* out;
    int64_t M, N, K;
  };

  // out[m0 + i][n0 + j] += chain over [k0, k0 + kc) for i < MR, j < nr; rows of w past nr repeat the last one.
  template <int MR, int NR>
  static void tile(const Op& op, int64_t m0, int64_t n0, int64_t nr, int64_t k0, int64_t kc) {
    const TA* a[MR];
    const TW* w[NR];
    for (int i = 0; i < MR; i++) a[i] = op.a + (m0 + i) * op.K + k0;
    for (int j = 0; j < NR; j++) w[j] = op.w + (n0 + std::min<int64_t>(j, nr - 1)) * op.K + k0;
    vec acc[MR][NR];
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < NR; j++) acc[i][j] = V::zero();
    int64_t k = 0;
    for (; k + V::W <= kc; k += V::W) {
      decltype(V::load(a[0])) av[MR];
      for (int i = 0; i < MR; i++) av[i] = V::load(a[i] + k);
      for (int j = 0; j < NR; j++) {
        const auto wv = V::load(w[j] + k);
        for (int i = 0; i < MR; i++) acc[i][j] = V::fma(av[i], wv, acc[i][j]);
      }
    }
    if (k < kc) {
      const int n = static_cast<int>(kc - k);
      for (int j = 0; j < NR; j++) {
        const auto wv = V::load_tail(w[j] + k, n);
        for (int i = 0; i < MR; i++) acc[i][j] = V::fma(V::load_tail(a[i] + k, n), wv, acc[i][j]);
      }
    }
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < NR && j < nr; j++) op.out[(m0 + i) * op.N + n0 + j] += V::hsum(acc[i][j]);
  }

  // tile<rows, NR> for rows in [1, MR].
  template <int MR, int NR>
  static void tile_rows(const Op& op, int64_t m0, int64_t rows, int64_t n0, int64_t nr, int64_t k0, int64_t kc) {
    if constexpr (MR > 1) {
      if (rows < MR) return tile_rows<MR - 1, NR>(op, m0, rows, n0, nr, k0, kc);
    }
    tile<MR, NR>(op, m0, n0, nr, k0, kc);
  }

  // A few rows (decode): each NR-row strip of w is read once, start to end, as NR sequential streams.
  static void few_rows(const Op& op, int64_t n_begin, int64_t n_end) {
    for (int64_t n0 = n_begin; n0 < n_end; n0 += V::kNRSmall)
      for (int64_t k0 = 0; k0 < op.K; k0 += kKC)
        tile_rows<V::kMR - 1, V::kNRSmall>(op, 0, op.M, n0, std::min<int64_t>(V::kNRSmall, n_end - n0), k0,
                                           std::min(kKC, op.K - k0));
  }

  // Batches: per K block and M block, a strip of NR rows of w stays in L1/L2 while every MR-row tile of the
  // M block (in L2) passes over it.
  static void batched(const Op& op, int64_t n_begin, int64_t n_end) {
    for (int64_t k0 = 0; k0 < op.K; k0 += kKC) {
      const int64_t kc = std::min(kKC, op.K - k0);
      for (int64_t mb = 0; mb < op.M; mb += kMC) {
        const int64_t me = std::min(op.M, mb + kMC);
        for (int64_t n0 = n_begin; n0 < n_end; n0 += V::kNR) {
          const int64_t nr = std::min<int64_t>(V::kNR, n_end - n0);
          for (int64_t m0 = mb; m0 < me; m0 += V::kMR)
            tile_rows<V::kMR, V::kNR>(op, m0, std::min<int64_t>(V::kMR, me - m0), n0, nr, k0, kc);
        }
      }
    }
  }

  static void run(ThreadPool& pool, float* out, const TA* a, const TW* w, const float* bias, int64_t M,
                  int64_t N, int64_t K) {
    if (M == 0 || N == 0) return;
    const Op op{a, w, out, M, N, K};
    constexpr int64_t unit = 48;  // columns per scheduling unit: a multiple of every tile width
    const int64_t units = (N + unit - 1) / unit;
    // Enough units per task that each task does ~1 MFLOP or streams ~256 KiB of w (decode is bandwidth-bound, and
    // every thread adds bandwidth).
    const int64_t per_unit = std::max<int64_t>(1, K * unit);
    const int64_t grain = std::max<int64_t>(
        1, std::min<int64_t>((1 << 20) / (2 * M * per_unit), (256 << 10) / (per_unit * int64_t(sizeof(TW)))));
    pool.parallel_for(units, grain, [&](int64_t u0, int64_t u1) {
      const int64_t n_begin = u0 * unit, n_end = std::min(N, u1 * unit);
      for (int64_t m = 0; m < M; m++) {
        float* row = out + m * N;
        if (bias) std::memcpy(row + n_begin, bias + n_begin, (n_end - n_begin) * sizeof(float));
        else std::memset(row + n_begin, 0, (n_end - n_begin) * sizeof(float));
      }
      if (M < V::kMR) few_rows(op, n_begin, n_end);
      else batched(op, n_begin, n_end);
    });
  }
};

}  // namespace sluice
