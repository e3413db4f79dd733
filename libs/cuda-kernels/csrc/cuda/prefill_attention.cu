// Prefill attention, flash style: a block takes a tile of kBM query rows of one sequence and one head and
// streams the sequence's keys/values from the paged cache in tiles of BN tokens, keeping a running max and
// sum per row (online softmax), so the score matrix is never materialised beyond one BM x BN tile.
// Queries are packed variable-length (cu_seqlens_q); query i of sequence b sits at position
// context_len_b - qlen_b + i and attends causally to every cached key up to it (prefix caching, chunked prefill).
// f16/bf16 tiles use tensor cores through WMMA; f32 uses CUDA cores so it keeps full f32 accuracy.
#include <mma.h>

#include <type_traits>

#include "check.h"
#include "common.cuh"
#include "kernels.h"

namespace sluice {
namespace cuda {
namespace {

constexpr int kBM = 64;  // query rows per block, 16 per warp
constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kRowsPerWarp = kBM / kWarps;
constexpr float kLog2e = 1.4426950408889634f;

struct PrefillParams {
  void* out;
  const void* q;
  const void* k_cache;
  const void* v_cache;
  const int32_t* cu_seqlens_q;
  const int32_t* block_tables;
  const int32_t* context_lens;
  int batch, num_heads, num_kv_heads, block_size, max_blocks, num_blocks, total_q;
  float scale_log2;
  IndexFault* fault;
};

// cu_seqlens_q must run from 0 to total_q without decreasing; checked by one thread of the grid. A block whose
// sequence breaks it, or is longer than its context or the block tables, exits without writing.
__device__ void check_prefill_lengths(const PrefillParams& p) {
  if (p.fault == nullptr || blockIdx.x != 0 || blockIdx.y != 0 || threadIdx.x != 0) return;
  if (!index_ok(p.fault, kArgCuSeqlensQ, 0, p.cu_seqlens_q[0], 0, 1)) return;
  for (int i = 0; i < p.batch; i++) {
    const int s = p.cu_seqlens_q[i], e = p.cu_seqlens_q[i + 1];
    if (!index_ok(p.fault, kArgCuSeqlensQ, i + 1, e, s, p.total_q + 1)) return;
    const int64_t capacity = static_cast<int64_t>(p.max_blocks) * p.block_size;
    if (!index_ok(p.fault, kArgContextLens, i, p.context_lens[i], e - s, capacity + 1)) return;
  }
  index_ok(p.fault, kArgCuSeqlensQ, p.batch, p.cu_seqlens_q[p.batch], p.total_q, p.total_q + 1);
}

template <typename T, int D, int BN> constexpr size_t smem_bytes() {
  return (static_cast<size_t>(kBM) * D + 2 * BN * D + kBM * BN) * sizeof(T) +
         (static_cast<size_t>(kBM) * BN + kBM * D) * sizeof(float);
}

// S[rows of this warp][BN] = Q·Kᵀ (unscaled).
template <typename T, int D, int BN>
__device__ __forceinline__ void warp_scores(const T* Qs, const T* Ks, float* Ss, int warp, int lane) {
  if constexpr (std::is_same_v<T, float>) {
    for (int r = 0; r < kRowsPerWarp; r++) {
      const float* qrow = Qs + (warp * kRowsPerWarp + r) * D;
#pragma unroll
      for (int c = 0; c < BN / 32; c++) {
        const int n = lane + 32 * c;
        const float* krow = Ks + n * D;
        float s = 0.f;
#pragma unroll 8
        for (int d = 0; d < D; d++) s += qrow[d] * krow[d];
        Ss[(warp * kRowsPerWarp + r) * BN + n] = s;
      }
    }
  } else {
    using namespace nvcuda;
    for (int nf = 0; nf < BN / 16; nf++) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::fill_fragment(acc, 0.f);
#pragma unroll
      for (int k0 = 0; k0 < D; k0 += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> b;  // Kᵀ: element (k, n) at Ks[n*D + k]
        wmma::load_matrix_sync(a, Qs + warp * kRowsPerWarp * D + k0, D);
        wmma::load_matrix_sync(b, Ks + nf * 16 * D + k0, D);
        wmma::mma_sync(acc, a, b, acc);
      }
      wmma::store_matrix_sync(Ss + warp * kRowsPerWarp * BN + nf * 16, acc, BN, wmma::mem_row_major);
    }
  }
}

// O[rows of this warp][D] += P·V.
template <typename T, int D, int BN>
__device__ __forceinline__ void warp_pv(const T* Ps, const T* Vs, float* Os, int warp, int lane) {
  if constexpr (std::is_same_v<T, float>) {
    for (int r = 0; r < kRowsPerWarp; r++) {
      const int row = warp * kRowsPerWarp + r;
      for (int d = lane; d < D; d += 32) {
        float acc = Os[row * D + d];
#pragma unroll 8
        for (int n = 0; n < BN; n++) acc += Ps[row * BN + n] * Vs[n * D + d];
        Os[row * D + d] = acc;
      }
    }
  } else {
    using namespace nvcuda;
    for (int df = 0; df < D / 16; df++) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      float* o = Os + warp * kRowsPerWarp * D + df * 16;
      wmma::load_matrix_sync(acc, o, D, wmma::mem_row_major);
#pragma unroll
      for (int kk = 0; kk < BN; kk += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> b;
        wmma::load_matrix_sync(a, Ps + warp * kRowsPerWarp * BN + kk, BN);
        wmma::load_matrix_sync(b, Vs + kk * D + df * 16, D);
        wmma::mma_sync(acc, a, b, acc);
      }
      wmma::store_matrix_sync(o, acc, D, wmma::mem_row_major);
    }
  }
}

template <typename T, int D, int BN>
__global__ void __launch_bounds__(kThreads) prefill_kernel(PrefillParams p) {
  constexpr int VEC = 16 / sizeof(T);
  constexpr int VPR = D / VEC;  // 16-byte vectors per row
  static_assert(D % 16 == 0 && BN % 32 == 0, "tile shapes");
  extern __shared__ __align__(128) unsigned char smem[];
  T* Qs = reinterpret_cast<T*>(smem);
  T* Ks = Qs + kBM * D;
  T* Vs = Ks + BN * D;
  T* Ps = Vs + BN * D;
  float* Ss = reinterpret_cast<float*>(Ps + kBM * BN);
  float* Os = Ss + kBM * BN;

  // Which sequence and which of its query tiles this block serves (blocks past the last tile exit).
  check_prefill_lengths(p);
  int tile = blockIdx.x, b = -1, q0 = 0, qlen = 0;
  for (int i = 0; i < p.batch; i++) {
    const int s = p.cu_seqlens_q[i], e = p.cu_seqlens_q[i + 1];
    if (s < 0 || e < s || e > p.total_q) return;  // malformed offsets: reported by check_prefill_lengths
    const int tiles = (e - s + kBM - 1) / kBM;
    if (tile < tiles) {
      b = i;
      q0 = s;
      qlen = e - s;
      break;
    }
    tile -= tiles;
  }
  if (b < 0) return;

  const int head = blockIdx.y, kvh = head / (p.num_heads / p.num_kv_heads);
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int ctx = p.context_lens[b];
  if (ctx < qlen || ctx > p.max_blocks * p.block_size) return;  // reported by check_prefill_lengths
  const int row0 = tile * kBM;
  const int rows = min(kBM, qlen - row0);
  const int pos0 = ctx - qlen + row0;        // position of the tile's first query
  const int kv_end = min(ctx, pos0 + rows);  // keys the tile can see: [0, kv_end)
  const int64_t q_stride = static_cast<int64_t>(p.num_heads) * D;
  const int64_t slot_stride = static_cast<int64_t>(p.num_kv_heads) * D;
  const int32_t* table = p.block_tables + static_cast<int64_t>(b) * p.max_blocks;
  const T* kc = static_cast<const T*>(p.k_cache);
  const T* vc = static_cast<const T*>(p.v_cache);

  for (int i = tid; i < kBM * VPR; i += kThreads) {
    const int r = i / VPR, c = (i % VPR) * VEC;
    Vec<T, VEC> v;
    if (r < rows) {
      v = *reinterpret_cast<const Vec<T, VEC>*>(static_cast<const T*>(p.q) + (q0 + row0 + r) * q_stride +
                                                static_cast<int64_t>(head) * D + c);
    } else {
#pragma unroll
      for (int j = 0; j < VEC; j++) v.v[j] = from_float<T>(0.f);
    }
    *reinterpret_cast<Vec<T, VEC>*>(Qs + r * D + c) = v;
  }
  for (int i = tid; i < kBM * D; i += kThreads) Os[i] = 0.f;

  float m[kRowsPerWarp], l[kRowsPerWarp];  // running base-2 max and sum of each of this warp's rows
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; r++) {
    m[r] = -INFINITY;
    l[r] = 0.f;
  }

  for (int n0 = 0; n0 < kv_end; n0 += BN) {
    __syncthreads();  // the previous tile's K/V are no longer read
    for (int i = tid; i < BN * VPR; i += kThreads) {
      const int r = i / VPR, c = (i % VPR) * VEC;
      const int j = n0 + r;
      Vec<T, VEC> kv, vv;
      if (j < kv_end) {
        const int64_t block = table[j / p.block_size];
        const int64_t at = static_cast<int64_t>(b) * p.max_blocks + j / p.block_size;
        if (index_ok(p.fault, kArgBlockTables, at, block, 0, p.num_blocks)) {
          const int64_t off = (block * p.block_size + j % p.block_size) * slot_stride + static_cast<int64_t>(kvh) * D + c;
          kv = *reinterpret_cast<const Vec<T, VEC>*>(kc + off);
          vv = *reinterpret_cast<const Vec<T, VEC>*>(vc + off);
        } else {
#pragma unroll
          for (int x = 0; x < VEC; x++) kv.v[x] = vv.v[x] = from_float<T>(0.f);
        }
      } else {  // zeros, never stale data: 0 * NaN would poison the P·V product
#pragma unroll
        for (int x = 0; x < VEC; x++) kv.v[x] = vv.v[x] = from_float<T>(0.f);
      }
      *reinterpret_cast<Vec<T, VEC>*>(Ks + r * D + c) = kv;
      *reinterpret_cast<Vec<T, VEC>*>(Vs + r * D + c) = vv;
    }
    __syncthreads();

    warp_scores<T, D, BN>(Qs, Ks, Ss, warp, lane);
    __syncwarp();

#pragma unroll
    for (int r = 0; r < kRowsPerWarp; r++) {
      const int row = warp * kRowsPerWarp + r;
      const int qpos = pos0 + row;
      float s[BN / 32];
      float mx = -INFINITY;
#pragma unroll
      for (int c = 0; c < BN / 32; c++) {
        const int j = n0 + lane + 32 * c;
        s[c] = (j <= qpos && j < kv_end) ? Ss[row * BN + lane + 32 * c] * p.scale_log2 : -INFINITY;
        mx = fmaxf(mx, s[c]);
      }
      const float new_m = fmaxf(m[r], warp_max(mx));
      const float base = new_m == -INFINITY ? 0.f : new_m;  // a row with nothing visible yet stays at zero
      float sum = 0.f;
#pragma unroll
      for (int c = 0; c < BN / 32; c++) {
        const float e = exp2f(s[c] - base);
        sum += e;
        Ps[row * BN + lane + 32 * c] = from_float<T>(e);
      }
      const float alpha = exp2f(m[r] - base);
      l[r] = l[r] * alpha + warp_sum(sum);
      m[r] = new_m;
      for (int d = lane; d < D; d += 32) Os[row * D + d] *= alpha;
    }
    __syncwarp();
    warp_pv<T, D, BN>(Ps, Vs, Os, warp, lane);
  }
  __syncwarp();

  T* out = static_cast<T*>(p.out);
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; r++) {
    const int row = warp * kRowsPerWarp + r;
    if (row >= rows) continue;
    const float inv = l[r] > 0.f ? 1.f / l[r] : 0.f;
    T* orow = out + (q0 + row0 + row) * q_stride + static_cast<int64_t>(head) * D;
    for (int d = lane; d < D; d += 32) orow[d] = from_float<T>(Os[row * D + d] * inv);
  }
}

template <typename T, int D> void launch_prefill(const PrefillParams& p, int total_q, cudaStream_t stream) {
  constexpr int BN = std::is_same_v<T, float> ? 32 : 64;  // f32 tiles are twice as large per element
  constexpr size_t smem = smem_bytes<T, D, BN>();
  auto kernel = prefill_kernel<T, D, BN>;
  SLUICE_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
  // Each sequence's tiles start at its own first query, so at most one partial tile per sequence is added.
  const dim3 grid(ceil_div(total_q, kBM) + p.batch, p.num_heads);
  kernel<<<grid, kThreads, smem, stream>>>(p);
  SLUICE_LAUNCH_CHECK();
}

}  // namespace

void prefill_attention(const TensorRef& out, const TensorRef& q, const TensorRef& k_cache, const TensorRef& v_cache,
                       const TensorRef& cu_seqlens_q, const TensorRef& block_tables, const TensorRef& context_lens,
                       float scale, IndexFault* fault, cudaStream_t stream) {
  const int batch = static_cast<int>(context_lens.numel());
  const int total_q = static_cast<int>(q.dim(0));
  if (batch == 0 || total_q == 0) return;
  const int D = static_cast<int>(k_cache.dim(3));
  PrefillParams p{};
  p.out = out.data;
  p.q = q.data;
  p.k_cache = k_cache.data;
  p.v_cache = v_cache.data;
  p.cu_seqlens_q = cu_seqlens_q.ptr<const int32_t>();
  p.block_tables = block_tables.ptr<const int32_t>();
  p.context_lens = context_lens.ptr<const int32_t>();
  p.batch = batch;
  p.num_heads = static_cast<int>(q.numel() / total_q / D);
  p.num_kv_heads = static_cast<int>(k_cache.dim(2));
  p.block_size = static_cast<int>(k_cache.dim(1));
  p.max_blocks = static_cast<int>(block_tables.dim(1));
  p.scale_log2 = scale * kLog2e;
  p.num_blocks = static_cast<int>(k_cache.dim(0));
  p.total_q = total_q;
  p.fault = fault;
  SLUICE_DISPATCH_FLOAT("prefill_attention", q.dtype, T, {
    switch (D) {
      case 64: launch_prefill<T, 64>(p, total_q, stream); break;
      case 96: launch_prefill<T, 96>(p, total_q, stream); break;
      case 128: launch_prefill<T, 128>(p, total_q, stream); break;
      default: unsupported("prefill_attention", "head dim " + std::to_string(D) + " (64, 96, 128 supported)");
    }
  });
}

}  // namespace cuda
}  // namespace sluice
