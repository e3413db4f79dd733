// Decode attention over the paged KV cache: one query token per sequence, GQA/MQA.
// One thread block serves the G query heads that share a KV head, so each K/V row is read from memory once,
// in 16-byte vector loads. Long contexts are split into partitions of kPartition tokens processed by separate
// blocks (split-K); a second kernel merges the partial softmax results. Scores live in shared memory only.
// The partition count comes from the batch's maximum context length when the caller knows it (else from the
// block tables' capacity); context lengths above that bound are clamped to it, i.e. later tokens are ignored.
#include <algorithm>

#include "check.h"
#include "common.cuh"
#include "kernels.h"

namespace sluice {
namespace cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kPartition = 512;  // tokens per block; contexts longer than this are split
constexpr int kUnroll = 4;       // K/V rows loaded per lane before they are used, for memory-level parallelism
constexpr float kLog2e = 1.4426950408889634f;

struct DecodeParams {
  void* out;
  const void* q;
  const void* k_cache;
  const void* v_cache;
  const int32_t* block_tables;
  const int32_t* context_lens;
  float* tmp_out;     // [B, nH, P, D], partition outputs normalised by their own sum (split only)
  float* max_logits;  // [B, nH, P], base-2 max score of each partition (split only)
  float* exp_sums;    // [B, nH, P]
  int num_heads, num_kv_heads, gqa, head_chunks, block_size, max_blocks, partitions;
  int max_context;   // every context length is clamped to this, so no block reads past the partitions sized for it
  float scale_log2;  // softmax scale times log2(e): scores are kept in base 2 so exp2f applies directly
  int num_blocks;    // blocks of each cache: a block id outside [0, num_blocks) reads as zeros
  IndexFault* fault;  // checks on: a length above max_context or a bad block id is recorded (not clamped silently)
};

__host__ __device__ constexpr int next_pow2(int x) { return x <= 1 ? 1 : 2 * next_pow2((x + 1) / 2); }

template <typename T, int D, int G>
__global__ void __launch_bounds__(kThreads) paged_decode_kernel(DecodeParams p) {
  constexpr int VEC = 16 / sizeof(T);            // elements per 16-byte load
  constexpr int LANES = D / VEC;                 // lanes that hold one K/V row
  constexpr int TG = next_pow2(LANES);           // lanes per token group (power of two for xor shuffles)
  constexpr int TPW = 32 / TG;                   // tokens a warp handles per step
  constexpr int STEP = kWarps * TPW;             // tokens the block handles per step
  static_assert(D % VEC == 0 && TG <= 32, "head dim must be a multiple of the vector width and fit a warp");

  __shared__ float logits[G][kPartition];
  __shared__ float red[kWarps][G][D];
  __shared__ float head_max[G], head_sum[G];

  const int seq = blockIdx.y, part = blockIdx.z;
  const int kvh = blockIdx.x / p.head_chunks, chunk = blockIdx.x % p.head_chunks;
  const int head0 = kvh * p.gqa + chunk * G;
  const int heads_here = min(G, p.gqa - chunk * G);
  const int raw_ctx = p.context_lens[seq];
  if (blockIdx.x == 0 && part == 0 && threadIdx.x == 0) {
    index_ok(p.fault, kArgContextLens, seq, raw_ctx, 0, static_cast<int64_t>(p.max_context) + 1);
  }
  const int ctx = min(raw_ctx, p.max_context);
  const int start = part * kPartition;
  const int n = min(ctx - start, kPartition);
  const bool split = p.partitions > 1;

  if (n <= 0) {  // partition past the end of this sequence (or an empty context)
    for (int i = threadIdx.x; i < heads_here * D; i += kThreads) {
      const int g = i / D, d = i % D;
      const int64_t row = static_cast<int64_t>(seq) * p.num_heads + head0 + g;
      if (split) {
        if (d == 0) {
          p.max_logits[row * p.partitions + part] = -INFINITY;
          p.exp_sums[row * p.partitions + part] = 0.f;
        }
        p.tmp_out[(row * p.partitions + part) * D + d] = 0.f;
      } else {
        static_cast<T*>(p.out)[row * D + d] = from_float<T>(0.f);
      }
    }
    return;
  }

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int glane = lane % TG, tok = lane / TG;
  const bool lane_active = glane < LANES;
  const int dim0 = glane * VEC;
  const int32_t* table = p.block_tables + static_cast<int64_t>(seq) * p.max_blocks;
  const int64_t row_stride = static_cast<int64_t>(p.num_kv_heads) * D;  // between consecutive slots

  float q[G][VEC];
#pragma unroll
  for (int g = 0; g < G; g++) {
    if (g < heads_here && lane_active) {
      load_float<T, VEC>(q[g], static_cast<const T*>(p.q) + (static_cast<int64_t>(seq) * p.num_heads + head0 + g) * D + dim0);
#pragma unroll
      for (int j = 0; j < VEC; j++) q[g][j] *= p.scale_log2;
    } else {
#pragma unroll
      for (int j = 0; j < VEC; j++) q[g][j] = 0.f;
    }
  }

  // Offset of token t's row for this KV head (in elements), or -1 when t is past the partition.
  auto row_offset = [&](int t) -> int64_t {
    if (t >= n || !lane_active) return -1;
    const int pos = start + t;
    const int64_t block = table[pos / p.block_size];
    if (!index_ok(p.fault, kArgBlockTables, static_cast<int64_t>(seq) * p.max_blocks + pos / p.block_size, block, 0,
                  p.num_blocks)) {
      return -1;
    }
    const int64_t slot = block * p.block_size + pos % p.block_size;
    return slot * row_stride + static_cast<int64_t>(kvh) * D + dim0;
  };

  // Phase 1: scores. All lanes of a warp run the same trip count so the group shuffles stay converged.
  const T* kc = static_cast<const T*>(p.k_cache);
  for (int base = warp * TPW; base < n; base += STEP * kUnroll) {
    float kv[kUnroll][VEC];
    int64_t off[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; u++) {
      off[u] = row_offset(base + u * STEP + tok);
      if (off[u] >= 0) {
        load_float<T, VEC>(kv[u], kc + off[u]);
      } else {
#pragma unroll
        for (int j = 0; j < VEC; j++) kv[u][j] = 0.f;
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; u++) {
      const int t = base + u * STEP + tok;
#pragma unroll
      for (int g = 0; g < G; g++) {
        float s = 0.f;
#pragma unroll
        for (int j = 0; j < VEC; j++) s += q[g][j] * kv[u][j];
#pragma unroll
        for (int o = TG / 2; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
        if (glane == 0 && t < n) logits[g][t] = s;
      }
    }
  }
  __syncthreads();

  // Phase 2: softmax numerators per head, one warp per head.
  for (int g = warp; g < G; g += kWarps) {
    float m = -INFINITY;
    for (int i = lane; i < n; i += 32) m = fmaxf(m, logits[g][i]);
    m = warp_max(m);
    float sum = 0.f;
    for (int i = lane; i < n; i += 32) {
      const float e = exp2f(logits[g][i] - m);
      logits[g][i] = e;
      sum += e;
    }
    sum = warp_sum(sum);
    if (lane == 0) {
      head_max[g] = m;
      head_sum[g] = sum;
    }
  }
  __syncthreads();

  // Phase 3: weighted sum of V rows.
  float acc[G][VEC];
#pragma unroll
  for (int g = 0; g < G; g++) {
#pragma unroll
    for (int j = 0; j < VEC; j++) acc[g][j] = 0.f;
  }
  const T* vc = static_cast<const T*>(p.v_cache);
  for (int base = warp * TPW; base < n; base += STEP * kUnroll) {
    float kv[kUnroll][VEC];
    int64_t off[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; u++) {
      off[u] = row_offset(base + u * STEP + tok);
      if (off[u] >= 0) load_float<T, VEC>(kv[u], vc + off[u]);
    }
#pragma unroll
    for (int u = 0; u < kUnroll; u++) {
      if (off[u] < 0) continue;
      const int t = base + u * STEP + tok;
#pragma unroll
      for (int g = 0; g < G; g++) {
        const float w = logits[g][t];
#pragma unroll
        for (int j = 0; j < VEC; j++) acc[g][j] += w * kv[u][j];
      }
    }
  }
  // Sum the token groups of each warp, then the warps.
#pragma unroll
  for (int g = 0; g < G; g++) {
#pragma unroll
    for (int j = 0; j < VEC; j++) {
#pragma unroll
      for (int o = TG; o < 32; o <<= 1) acc[g][j] += __shfl_xor_sync(0xffffffffu, acc[g][j], o);
    }
  }
  if (tok == 0 && lane_active) {
#pragma unroll
    for (int g = 0; g < G; g++) {
#pragma unroll
      for (int j = 0; j < VEC; j++) red[warp][g][dim0 + j] = acc[g][j];
    }
  }
  __syncthreads();

  for (int i = threadIdx.x; i < heads_here * D; i += kThreads) {
    const int g = i / D, d = i % D;
    float v = 0.f;
#pragma unroll
    for (int w = 0; w < kWarps; w++) v += red[w][g][d];
    v /= head_sum[g];
    const int64_t row = static_cast<int64_t>(seq) * p.num_heads + head0 + g;
    if (split) {
      p.tmp_out[(row * p.partitions + part) * D + d] = v;
      if (d == 0) {
        p.max_logits[row * p.partitions + part] = head_max[g];
        p.exp_sums[row * p.partitions + part] = head_sum[g];
      }
    } else {
      static_cast<T*>(p.out)[row * D + d] = from_float<T>(v);
    }
  }
}

// Merges the partitions of one (sequence, head): each is weighted by its share of the global softmax sum.
template <typename T, int D>
__global__ void __launch_bounds__(kThreads) paged_decode_reduce_kernel(DecodeParams p) {
  extern __shared__ float weights[];  // [partitions]
  __shared__ float scratch[33];
  const int head = blockIdx.x, seq = blockIdx.y;
  const int64_t row = static_cast<int64_t>(seq) * p.num_heads + head;
  const int used = (min(p.context_lens[seq], p.max_context) + kPartition - 1) / kPartition;
  const float* maxes = p.max_logits + row * p.partitions;
  const float* sums = p.exp_sums + row * p.partitions;

  float m = -INFINITY;
  for (int i = threadIdx.x; i < used; i += kThreads) m = fmaxf(m, maxes[i]);
  m = block_max(m, scratch);
  float total = 0.f;
  for (int i = threadIdx.x; i < used; i += kThreads) {
    const float w = sums[i] * exp2f(maxes[i] - m);
    weights[i] = w;
    total += w;
  }
  total = block_sum(total, scratch);  // its barriers also publish `weights`
  const float inv = total > 0.f ? 1.f / total : 0.f;
  T* out = static_cast<T*>(p.out) + row * D;
  const float* tmp = p.tmp_out + row * p.partitions * D;
  for (int d = threadIdx.x; d < D; d += kThreads) {
    float v = 0.f;
    for (int i = 0; i < used; i++) v += weights[i] * tmp[static_cast<int64_t>(i) * D + d];
    out[d] = from_float<T>(v * inv);
  }
}

template <typename T, int D, int G> void launch_decode(DecodeParams p, int batch, cudaStream_t stream) {
  const dim3 grid(p.num_kv_heads * p.head_chunks, batch, p.partitions);
  paged_decode_kernel<T, D, G><<<grid, kThreads, 0, stream>>>(p);
  SLUICE_LAUNCH_CHECK();
  if (p.partitions > 1) {
    const size_t smem = static_cast<size_t>(p.partitions) * sizeof(float);
    if (smem > 48 * 1024) unsupported("paged_attention_decode", "context longer than 6M tokens");
    paged_decode_reduce_kernel<T, D><<<dim3(p.num_heads, batch), kThreads, smem, stream>>>(p);
    SLUICE_LAUNCH_CHECK();
  }
}

template <typename T, int D> void dispatch_group(DecodeParams p, int G, int batch, cudaStream_t stream) {
  switch (G) {
    case 1: launch_decode<T, D, 1>(p, batch, stream); break;
    case 2: launch_decode<T, D, 2>(p, batch, stream); break;
    case 4: launch_decode<T, D, 4>(p, batch, stream); break;
    default: launch_decode<T, D, 8>(p, batch, stream); break;
  }
}

}  // namespace

void paged_attention_decode(const TensorRef& out, const TensorRef& q, const TensorRef& k_cache,
                            const TensorRef& v_cache, const TensorRef& block_tables, const TensorRef& context_lens,
                            float scale, int64_t max_context_len, Workspace& ws, IndexFault* fault,
                            cudaStream_t stream) {
  const int batch = static_cast<int>(context_lens.numel());
  if (batch == 0) return;
  const int block_size = static_cast<int>(k_cache.dim(1));
  const int num_kv_heads = static_cast<int>(k_cache.dim(2));
  const int D = static_cast<int>(k_cache.dim(3));
  const int num_heads = static_cast<int>(q.numel() / batch / D);

  DecodeParams p{};
  p.out = out.data;
  p.q = q.data;
  p.k_cache = k_cache.data;
  p.v_cache = v_cache.data;
  p.block_tables = block_tables.ptr<const int32_t>();
  p.context_lens = context_lens.ptr<const int32_t>();
  p.num_heads = num_heads;
  p.num_kv_heads = num_kv_heads;
  p.gqa = num_heads / num_kv_heads;
  p.block_size = block_size;
  p.max_blocks = static_cast<int>(block_tables.dim(1));
  // The split is known without reading context_lens on the host (no host sync; capturable in a CUDA graph): from
  // the caller's maximum context length, else from the block tables' capacity, which bounds every context.
  const int64_t capacity = static_cast<int64_t>(p.max_blocks) * block_size;
  const int64_t bound = max_context_len == kNoMaxContextLen ? capacity : std::min(max_context_len, capacity);
  p.max_context = static_cast<int>(std::min<int64_t>(bound, INT32_MAX));
  p.partitions = std::max(1, ceil_div(bound, kPartition));
  p.scale_log2 = scale * kLog2e;
  p.num_blocks = static_cast<int>(k_cache.dim(0));
  p.fault = fault;
  const int G = std::min(8, next_pow2(p.gqa));
  p.head_chunks = ceil_div(p.gqa, G);
  if (p.partitions > 1) {
    const size_t rows = static_cast<size_t>(batch) * num_heads * p.partitions;
    char* buf = static_cast<char*>(ws.get(rows * (D + 2) * sizeof(float)));
    p.tmp_out = reinterpret_cast<float*>(buf);
    p.max_logits = p.tmp_out + rows * D;
    p.exp_sums = p.max_logits + rows;
  }
  SLUICE_DISPATCH_FLOAT("paged_attention_decode", q.dtype, T, {
    switch (D) {
      case 64: dispatch_group<T, 64>(p, G, batch, stream); break;
      case 96: dispatch_group<T, 96>(p, G, batch, stream); break;
      case 128: dispatch_group<T, 128>(p, G, batch, stream); break;
      default: unsupported("paged_attention_decode", "head dim " + std::to_string(D) + " (64, 96, 128 supported)");
    }
  });
}

}  // namespace cuda
}  // namespace sluice
