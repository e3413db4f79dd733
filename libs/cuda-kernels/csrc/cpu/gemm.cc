// f32 GEMM out[M,N] = a[M,K] · w[N,K]ᵀ (+ bias): both operands are K-contiguous, so each register tile of
// MR rows of a by NR rows of w accumulates 8-wide partial dot products and reduces them once per K block.
// Threads split N (disjoint weight rows); K is blocked so a weight tile stays in L1 while every row of an
// M block (kept in L2) streams past it.
#include <algorithm>
#include <cstring>

#include "cpu/cpu_backend.h"
#include "cpu/simd.h"

namespace sluice {
namespace {

constexpr int64_t kMR = 2;    // rows of a per register tile
constexpr int64_t kNR = 6;    // rows of w per register tile: 12 accumulators + 2 a + 1 w registers
constexpr int64_t kKC = 512;  // K block: a 6 x 512 weight tile is 12 KiB of L1
constexpr int64_t kMC = 128;  // M block: 128 x 512 floats of a is 256 KiB of L2

struct Operands {
  const float* a;
  const float* w;
  float* out;
  int64_t M, N, K;
};

template <int MR, int NR>
void tile(const Operands& op, int64_t m0, int64_t n0, int64_t k0, int64_t kc) {
  const float* a = op.a + m0 * op.K + k0;
  const float* w = op.w + n0 * op.K + k0;
  v8f acc[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) acc[i][j] = splat8(0.f);
  int64_t k = 0;
  for (; k + 8 <= kc; k += 8) {
    v8f av[MR];
    for (int i = 0; i < MR; i++) av[i] = load8(a + i * op.K + k);
    for (int j = 0; j < NR; j++) {
      const v8f wv = load8(w + j * op.K + k);
      for (int i = 0; i < MR; i++) acc[i][j] += av[i] * wv;
    }
  }
  for (int i = 0; i < MR; i++) {
    for (int j = 0; j < NR; j++) {
      float s = hsum8(acc[i][j]);
      for (int64_t kk = k; kk < kc; kk++) s += a[i * op.K + kk] * w[j * op.K + kk];
      op.out[(m0 + i) * op.N + n0 + j] += s;
    }
  }
}

template <int MR>
void tile_rows(const Operands& op, int64_t m0, int64_t n0, int64_t nr, int64_t k0, int64_t kc) {
  switch (nr) {
    case 6: return tile<MR, 6>(op, m0, n0, k0, kc);
    case 5: return tile<MR, 5>(op, m0, n0, k0, kc);
    case 4: return tile<MR, 4>(op, m0, n0, k0, kc);
    case 3: return tile<MR, 3>(op, m0, n0, k0, kc);
    case 2: return tile<MR, 2>(op, m0, n0, k0, kc);
    default: return tile<MR, 1>(op, m0, n0, k0, kc);
  }
}

// Columns [n_begin, n_end) of out, every row.
void gemm_columns(const Operands& op, const float* bias, int64_t n_begin, int64_t n_end) {
  for (int64_t m = 0; m < op.M; m++) {
    float* row = op.out + m * op.N;
    if (bias) std::memcpy(row + n_begin, bias + n_begin, (n_end - n_begin) * sizeof(float));
    else std::memset(row + n_begin, 0, (n_end - n_begin) * sizeof(float));
  }
  for (int64_t k0 = 0; k0 < op.K; k0 += kKC) {
    const int64_t kc = std::min(kKC, op.K - k0);
    for (int64_t mb = 0; mb < op.M; mb += kMC) {
      const int64_t me = std::min(op.M, mb + kMC);
      for (int64_t n0 = n_begin; n0 < n_end; n0 += kNR) {
        const int64_t nr = std::min(kNR, n_end - n0);
        int64_t m0 = mb;
        for (; m0 + kMR <= me; m0 += kMR) tile_rows<2>(op, m0, n0, nr, k0, kc);
        for (; m0 < me; m0++) tile_rows<1>(op, m0, n0, nr, k0, kc);
      }
    }
  }
}

}  // namespace

void cpu_gemm_f32(ThreadPool& pool, float* out, const float* a, const float* w, const float* bias, int64_t M,
                  int64_t N, int64_t K) {
  if (M == 0 || N == 0) return;
  const Operands op{a, w, out, M, N, K};
  const int64_t tiles = (N + kNR - 1) / kNR;
  // Enough column tiles per task that each task does ~1 MFLOP.
  const int64_t grain = std::max<int64_t>(1, (1 << 20) / std::max<int64_t>(1, 2 * M * K * kNR));
  pool.parallel_for(tiles, grain, [&](int64_t t0, int64_t t1) {
    gemm_columns(op, bias, t0 * kNR, std::min(N, t1 * kNR));
  });
}

}  // namespace sluice
