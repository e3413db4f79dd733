// f32 GEMM out[M,N] = a[M,K] · w[N,K]ᵀ (+ bias). Threads split N (disjoint weight rows, so the weights
// stream from memory once). K blocks are long on purpose: each weight row is then read as one long
// sequential stream the hardware prefetcher follows (K blocks of 512 and 128 measured 1.6x and 4x slower on Zen 4).
//  - Batches (M > kRowsMaxM): each M x K block of a is packed k-major, 16 rows per panel, and a register tile
//    of 16 rows of a by 6 rows of w keeps 12 vector accumulators: per k it loads 16 values of a and
//    broadcasts 6 of w (no horizontal sums, no strided loads of a; w rows are read sequentially).
//  - A few rows (decode): lanes run along n instead, so no lane is padding: 8 rows of w are transposed in
//    registers 8 k at a time and each of a's rows is broadcast per k.
// Batch invariance: in both kernels each vector lane is one output element, so out[m][n] = bias[n] + Σ over
// K blocks (fixed length, whatever M) of (an fma chain over k in order, from 0.f). That is the same operation
// sequence whatever M, m's place in the batch, the kernel, the tile shape or the thread split, so a row's
// result never depends on which rows share its batch.
#include <algorithm>
#include <cstring>
#include <vector>

#include "cpu/cpu_backend.h"
#include "cpu/simd.h"

namespace sluice {
namespace {

constexpr int64_t kKC = 4096;  // K block, fixed for every M: a packed 16 x 4096 panel of a is 256 KiB, L2-resident
constexpr int64_t kMC = 64;    // M block: 64 x 4096 packed floats of a is 1 MiB per thread
constexpr int64_t kNR = 6;     // rows of w per register tile (16-row panels)
constexpr int64_t kNR8 = 12;   // rows of w per register tile when a is a single 8-row panel
constexpr int64_t kRowsMaxM = 3;  // up to this many rows of a, the n-lane kernel

struct Operands {
  const float* a;
  const float* w;
  float* out;
  int64_t M, N, K;
};

// Rows [m0, m0 + rows) x columns [k0, k0 + kc) of a into dst[k][mr], zero-padding rows past `rows`.
void pack_panel(const Operands& op, int64_t m0, int64_t rows, int64_t k0, int64_t kc, int mr, float* dst) {
  for (int i = 0; i < mr; i++) {
    if (i < rows) {
      const float* src = op.a + (m0 + i) * op.K + k0;
      for (int64_t k = 0; k < kc; k++) dst[k * mr + i] = src[k];
    } else {
      for (int64_t k = 0; k < kc; k++) dst[k * mr + i] = 0.f;
    }
  }
}

// out[m0 + i, n0 + j] += Σ_k panel[k][i] · w[n0 + j, k0 + k] for i < rows, j < NR; MV vectors of 8 rows.
template <int MV, int NR>
void packed_tile(const Operands& op, const float* panel, int64_t m0, int64_t rows, int64_t n0, int64_t k0,
                 int64_t kc) {
  constexpr int MR = 8 * MV;
  const float* w = op.w + n0 * op.K + k0;
  v8f acc[NR][MV];
  for (int j = 0; j < NR; j++)
    for (int v = 0; v < MV; v++) acc[j][v] = splat8(0.f);
  for (int64_t k = 0; k < kc; k++) {
    v8f av[MV];
    for (int v = 0; v < MV; v++) av[v] = load8(panel + k * MR + 8 * v);
    for (int j = 0; j < NR; j++) {
      const v8f wv = splat8(w[j * op.K + k]);
      for (int v = 0; v < MV; v++) acc[j][v] = fma8(av[v], wv, acc[j][v]);
    }
  }
  for (int j = 0; j < NR; j++) {
    for (int v = 0; v < MV; v++) {
      float lanes[8];
      store8(lanes, acc[j][v]);
      for (int l = 0; l < 8 && 8 * v + l < rows; l++) op.out[(m0 + 8 * v + l) * op.N + n0 + j] += lanes[l];
    }
  }
}

// packed_tile<MV, nr> for a runtime width nr in [1, NR].
template <int MV, int NR>
void packed_tile_n(const Operands& op, const float* panel, int64_t m0, int64_t rows, int64_t n0, int64_t nr,
                   int64_t k0, int64_t kc) {
  if constexpr (NR > 1) {
    if (nr < NR) return packed_tile_n<MV, NR - 1>(op, panel, m0, rows, n0, nr, k0, kc);
  }
  packed_tile<MV, NR>(op, panel, m0, rows, n0, k0, kc);
}

// Columns [n_begin, n_end) of out, every row; `packed` holds kMC x kKC floats.
void packed_columns(const Operands& op, int64_t n_begin, int64_t n_end, float* packed) {
  for (int64_t k0 = 0; k0 < op.K; k0 += kKC) {
    const int64_t kc = std::min(kKC, op.K - k0);
    for (int64_t mb = 0; mb < op.M; mb += kMC) {
      const int64_t me = std::min(op.M, mb + kMC);
      // 16-row panels at (m0 - mb) * kc; a last panel of at most 8 rows is packed 8 wide for the 8-row kernel.
      for (int64_t m0 = mb; m0 < me; m0 += 16) {
        const int64_t rows = std::min<int64_t>(16, me - m0);
        pack_panel(op, m0, rows, k0, kc, rows <= 8 ? 8 : 16, packed + (m0 - mb) * kc);
      }
      // A block of one 8-row panel (small batches) takes 12 weight rows per tile, to keep 12 accumulators busy,
      // unless rows of w lie a multiple of 2 KiB apart: then 12 rows share too few L1 sets and evict each other.
      const int64_t step = me - mb <= 8 && op.K % 512 != 0 ? kNR8 : kNR;
      for (int64_t n0 = n_begin; n0 < n_end; n0 += step) {
        const int64_t nr = std::min(step, n_end - n0);
        for (int64_t m0 = mb; m0 < me; m0 += 16) {
          const int64_t rows = std::min<int64_t>(16, me - m0);
          const float* panel = packed + (m0 - mb) * kc;
          if (rows > 8) packed_tile_n<2, kNR>(op, panel, m0, rows, n0, nr, k0, kc);
          else packed_tile_n<1, kNR8>(op, panel, m0, rows, n0, nr, k0, kc);
        }
      }
    }
  }
}

// --- n-lane kernel for a few rows ----------------------------------------------------------------------

// r[j] = column j of the 8 x 8 block whose rows are r[0..7].
inline void transpose8(v8f r[8]) {
#if defined(__AVX__)
  __m256 t[8], s[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int h = 0; h < 8; h += 4) {
    s[h] = _mm256_shuffle_ps(t[h], t[h + 2], _MM_SHUFFLE(1, 0, 1, 0));
    s[h + 1] = _mm256_shuffle_ps(t[h], t[h + 2], _MM_SHUFFLE(3, 2, 3, 2));
    s[h + 2] = _mm256_shuffle_ps(t[h + 1], t[h + 3], _MM_SHUFFLE(1, 0, 1, 0));
    s[h + 3] = _mm256_shuffle_ps(t[h + 1], t[h + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int j = 0; j < 4; j++) {
    r[j] = _mm256_permute2f128_ps(s[j], s[j + 4], 0x20);
    r[j + 4] = _mm256_permute2f128_ps(s[j], s[j + 4], 0x31);
  }
#else
  float m[64];
  for (int i = 0; i < 8; i++) store8(m + 8 * i, r[i]);
  for (int j = 0; j < 8; j++) r[j] = v8f{m[j], m[8 + j], m[16 + j], m[24 + j], m[32 + j], m[40 + j], m[48 + j], m[56 + j]};
#endif
}

// out[i, n0 + l] += Σ_k a[i, k0 + k] · w[n0 + l, k0 + k] for every row i < MR of a, l < nr (nr <= 8 NV); lane l
// of acc[i][v] is column n0 + 8 v + l. Rows of w past nr re-read the last valid row and are not stored.
template <int MR, int NV>
void rows_tile(const Operands& op, int64_t n0, int64_t nr, int64_t k0, int64_t kc) {
  const float* w[8 * NV];
  for (int l = 0; l < 8 * NV; l++) w[l] = op.w + (n0 + std::min<int64_t>(l, nr - 1)) * op.K + k0;
  const float* a = op.a + k0;
  v8f acc[MR][NV];
  for (int i = 0; i < MR; i++)
    for (int v = 0; v < NV; v++) acc[i][v] = splat8(0.f);
  // Columns [k, k + 8) of tile rows 8 v .. 8 v + 7 into acc[.][v].
  auto step8 = [&](int v, int64_t k) {
    v8f col[8];
    for (int l = 0; l < 8; l++) col[l] = load8(w[8 * v + l] + k);
    transpose8(col);
    for (int j = 0; j < 8; j++)
      for (int i = 0; i < MR; i++) acc[i][v] = fma8(splat8(a[i * op.K + k + j]), col[j], acc[i][v]);
  };
  // 16 k (one 64-byte line of each row) per step. Group v runs LAG steps behind group v - 1: with K a multiple
  // of 1024 the rows' lines at one k share an L1 set, and 16 rows there would evict lines before their use.
  constexpr int64_t LAG = 8;
  const int64_t steps = kc / 16;
  for (int64_t t = 0; t < steps + (NV - 1) * LAG; t++) {
    for (int v = 0; v < NV; v++) {
      const int64_t s = t - v * LAG;
      if (s < 0 || s >= steps) continue;
      step8(v, 16 * s);
      step8(v, 16 * s + 8);
    }
  }
  int64_t k = 16 * steps;
  for (; k + 8 <= kc; k += 8)
    for (int v = 0; v < NV; v++) step8(v, k);
  for (; k < kc; k++) {
    for (int v = 0; v < NV; v++) {
      v8f col;
      for (int l = 0; l < 8; l++) col[l] = w[8 * v + l][k];
      for (int i = 0; i < MR; i++) acc[i][v] = fma8(splat8(a[i * op.K + k]), col, acc[i][v]);
    }
  }
  for (int i = 0; i < MR; i++) {
    for (int v = 0; v < NV; v++) {
      float lanes[8];
      store8(lanes, acc[i][v]);
      for (int l = 0; l < 8 && 8 * v + l < nr; l++) op.out[i * op.N + n0 + 8 * v + l] += lanes[l];
    }
  }
}

template <int MR>
void rows_columns_m(const Operands& op, int64_t n_begin, int64_t n_end) {
  constexpr int NV = MR <= 2 ? 2 : 1;  // measured fastest on Zen 4 (1, 2 or 4 groups tried)
  for (int64_t k0 = 0; k0 < op.K; k0 += kKC) {
    const int64_t kc = std::min(kKC, op.K - k0);
    for (int64_t n0 = n_begin; n0 < n_end; n0 += 8 * NV)
      rows_tile<MR, NV>(op, n0, std::min<int64_t>(8 * NV, n_end - n0), k0, kc);
  }
}

// Columns [n_begin, n_end) of out for M <= kRowsMaxM rows, one tile row covering every row of a.
void rows_columns(const Operands& op, int64_t n_begin, int64_t n_end) {
  static_assert(kRowsMaxM == 3, "rows_columns dispatches M = 1, 2, 3");
  switch (op.M) {
    case 1: return rows_columns_m<1>(op, n_begin, n_end);
    case 2: return rows_columns_m<2>(op, n_begin, n_end);
    default: return rows_columns_m<3>(op, n_begin, n_end);
  }
}

// Sets columns [n_begin, n_end) of every row of out to the bias (or zero) before the K blocks accumulate.
void init_columns(const Operands& op, const float* bias, int64_t n_begin, int64_t n_end) {
  for (int64_t m = 0; m < op.M; m++) {
    float* row = op.out + m * op.N;
    if (bias) std::memcpy(row + n_begin, bias + n_begin, (n_end - n_begin) * sizeof(float));
    else std::memset(row + n_begin, 0, (n_end - n_begin) * sizeof(float));
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
    const int64_t n_begin = t0 * kNR, n_end = std::min(N, t1 * kNR);
    init_columns(op, bias, n_begin, n_end);
    if (M <= kRowsMaxM) return rows_columns(op, n_begin, n_end);
    thread_local std::vector<float> buffer;
    buffer.resize(kMC * kKC);
    packed_columns(op, n_begin, n_end, buffer.data());
  });
}

}  // namespace sluice
