// The attention input of one layer from one fused QKV GEMM: splits each row [q | k | v], applies the neox
// rotary embedding to q and k, writes q out and k, v into the paged caches, in one launch instead of three.
// Rotation goes through rotate_pair, as rotary_embedding's does, so results equal the unfused sequence.
#include <algorithm>

#include "check.h"
#include "common.cuh"
#include "kernels.h"

namespace sluice {
namespace cuda {
namespace {

// positions and slotMapping may each be i32 or i64; a uniform branch costs less than four instantiations.
__device__ __forceinline__ int64_t index_at(const void* p, bool wide, int64_t i) {
  return wide ? static_cast<const int64_t*>(p)[i] : static_cast<int64_t>(static_cast<const int32_t*>(p)[i]);
}

struct SplitParams {
  const void* positions;
  const void* slots;
  bool positions_wide, slots_wide;
  int nq, nk, D;  // query heads, KV heads, head dim
  int64_t max_pos, num_slots;  // rows of cosSin, slots of each cache
  IndexFault* fault;
};

// One block per token: first the (nq + nk) * D/2 rotation pairs (k only when the token has a slot), then v.
// A position outside cosSin skips the token; a slot outside the caches writes q only.
template <typename T, typename C>
__global__ void split_qkv_rotary_cache_kernel(T* __restrict__ q, const T* __restrict__ qkv,
                                              const C* __restrict__ cos_sin, T* __restrict__ k_cache,
                                              T* __restrict__ v_cache, SplitParams p) {
  const int64_t t = blockIdx.x;
  const int half = p.D / 2;
  const int64_t kv_width = static_cast<int64_t>(p.nk) * p.D;
  const T* row = qkv + t * (static_cast<int64_t>(p.nq) * p.D + 2 * kv_width);
  IndexFault* fault = threadIdx.x == 0 ? p.fault : nullptr;
  const int64_t pos = index_at(p.positions, p.positions_wide, t);
  if (!index_ok(fault, kArgPositions, t, pos, 0, p.max_pos)) return;
  const C* cs = cos_sin + pos * p.D;
  int64_t slot = index_at(p.slots, p.slots_wide, t);
  if (slot >= 0 && !index_ok(fault, kArgSlotMapping, t, slot, 0, p.num_slots)) slot = -1;
  const int heads = slot >= 0 ? p.nq + p.nk : p.nq;  // q and k heads lie contiguously at the start of the row
  for (int i = threadIdx.x; i < heads * half; i += blockDim.x) {
    const int head = i / half, j = i - head * half;
    const T* x = row + static_cast<int64_t>(head) * p.D;
    T* dst = head < p.nq ? q + (t * p.nq + head) * p.D
                         : k_cache + slot * kv_width + static_cast<int64_t>(head - p.nq) * p.D;
    float x1 = to_float(x[j]), x2 = to_float(x[j + half]);
    rotate_pair(x1, x2, to_float(cs[j]), to_float(cs[half + j]));
    dst[j] = from_float<T>(x1);
    dst[j + half] = from_float<T>(x2);
  }
  if (slot < 0) return;  // padding token: q only
  const T* v = row + static_cast<int64_t>(p.nq + p.nk) * p.D;
  T* vd = v_cache + slot * kv_width;
  for (int64_t i = threadIdx.x; i < kv_width; i += blockDim.x) vd[i] = v[i];
}

}  // namespace

void split_qkv_rotary_cache(const TensorRef& q, const TensorRef& qkv, const TensorRef& positions,
                            const TensorRef& cos_sin, const TensorRef& k_cache, const TensorRef& v_cache,
                            const TensorRef& slot_mapping, IndexFault* fault, cudaStream_t stream) {
  const int64_t tokens = positions.numel();
  if (tokens == 0) return;
  SplitParams p{};
  p.positions = positions.data;
  p.slots = slot_mapping.data;
  p.positions_wide = positions.dtype == DType::I64;
  p.slots_wide = slot_mapping.dtype == DType::I64;
  p.D = static_cast<int>(cos_sin.dim(1));
  p.nk = static_cast<int>(k_cache.dim(2));
  p.nq = static_cast<int>(q.numel() / tokens / p.D);
  p.max_pos = cos_sin.dim(0);
  p.num_slots = k_cache.dim(0) * k_cache.dim(1);
  p.fault = fault;
  const int64_t work = std::max<int64_t>(static_cast<int64_t>(p.nq + p.nk) * (p.D / 2),
                                         static_cast<int64_t>(p.nk) * p.D);
  const int threads = static_cast<int>(std::min<int64_t>(std::max<int64_t>((work + 31) / 32 * 32, 32), 1024));
  const unsigned grid = static_cast<unsigned>(tokens);
  // cosSin may be stored in any float dtype, independently of the activations (as for rotary_embedding).
  SLUICE_DISPATCH_FLOAT("split_qkv_rotary_cache", qkv.dtype, T, {
    SLUICE_DISPATCH_FLOAT("split_qkv_rotary_cache", cos_sin.dtype, C, {
      split_qkv_rotary_cache_kernel<T, C><<<grid, threads, 0, stream>>>(
          q.ptr<T>(), qkv.ptr<const T>(), cos_sin.ptr<const C>(), k_cache.ptr<T>(), v_cache.ptr<T>(), p);
      SLUICE_LAUNCH_CHECK();
    });
  });
}

}  // namespace cuda
}  // namespace sluice
