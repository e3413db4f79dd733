// Paged KV cache maintenance: scatter new K/V rows into their slots, and copy whole blocks (copy-on-write).
// Both are dtype-agnostic byte moves done in the widest access the sizes and alignment allow.
#include "check.h"
#include "common.cuh"
#include "kernels.h"

namespace sluice {
namespace cuda {
namespace {

// Widest access (16, 8, 4, 2 or 1 bytes) that divides `bytes` and every pointer.
int access_width(int64_t bytes, std::initializer_list<const void*> ptrs) {
  for (int w : {16, 8, 4, 2}) {
    bool ok = bytes % w == 0;
    for (const void* p : ptrs) ok = ok && reinterpret_cast<uintptr_t>(p) % w == 0;
    if (ok) return w;
  }
  return 1;
}

template <typename V, typename I>
__global__ void reshape_and_cache_kernel(const V* __restrict__ k, const V* __restrict__ v, V* __restrict__ k_cache,
                                         V* __restrict__ v_cache, const I* __restrict__ slots, int64_t row_vecs,
                                         int64_t num_slots, IndexFault* fault) {
  const int64_t t = blockIdx.x;
  const int64_t slot = load_index(slots, t);
  if (slot < 0) return;  // padding token: nothing to cache
  if (!index_ok(threadIdx.x == 0 ? fault : nullptr, kArgSlotMapping, t, slot, 0, num_slots)) return;
  const V* ks = k + t * row_vecs;
  const V* vs = v + t * row_vecs;
  V* kd = k_cache + slot * row_vecs;
  V* vd = v_cache + slot * row_vecs;
  for (int64_t i = threadIdx.x; i < row_vecs; i += blockDim.x) {
    kd[i] = ks[i];
    vd[i] = vs[i];
  }
}

template <typename V>
__global__ void copy_blocks_kernel(V* __restrict__ cache, const int32_t* __restrict__ pairs, int64_t block_vecs,
                                   int64_t num_blocks, IndexFault* fault) {
  const int64_t src = pairs[2 * blockIdx.x], dst = pairs[2 * blockIdx.x + 1];
  IndexFault* f = threadIdx.x == 0 ? fault : nullptr;
  if (!index_ok(f, kArgPairs, 2 * blockIdx.x, src, 0, num_blocks)) return;
  if (!index_ok(f, kArgPairs, 2 * blockIdx.x + 1, dst, 0, num_blocks)) return;
  const V* s = cache + src * block_vecs;
  V* d = cache + dst * block_vecs;
  for (int64_t i = threadIdx.x; i < block_vecs; i += blockDim.x) d[i] = s[i];
}

template <typename V, typename I>
void launch_reshape(const TensorRef& k, const TensorRef& v, const TensorRef& kc, const TensorRef& vc, const I* slots,
                    int64_t tokens, int64_t row_bytes, IndexFault* fault, cudaStream_t s) {
  const int64_t vecs = row_bytes / static_cast<int64_t>(sizeof(V));
  const int threads = vecs >= 256 ? 256 : static_cast<int>(((vecs + 31) / 32) * 32);
  reshape_and_cache_kernel<V, I><<<static_cast<unsigned>(tokens), threads, 0, s>>>(
      k.ptr<const V>(), v.ptr<const V>(), kc.ptr<V>(), vc.ptr<V>(), slots, vecs, kc.dim(0) * kc.dim(1), fault);
  SLUICE_LAUNCH_CHECK();
}

template <typename V>
void launch_copy(const TensorRef& cache, const TensorRef& pairs, int64_t block_bytes, IndexFault* fault, cudaStream_t s) {
  const int64_t vecs = block_bytes / static_cast<int64_t>(sizeof(V));
  copy_blocks_kernel<V><<<static_cast<unsigned>(pairs.dim(0)), 256, 0, s>>>(cache.ptr<V>(), pairs.ptr<const int32_t>(),
                                                                            vecs, cache.dim(0), fault);
  SLUICE_LAUNCH_CHECK();
}

}  // namespace

void reshape_and_cache(const TensorRef& k, const TensorRef& v, const TensorRef& k_cache, const TensorRef& v_cache,
                       const TensorRef& slot_mapping, IndexFault* fault, cudaStream_t stream) {
  const int64_t tokens = slot_mapping.numel();
  if (tokens == 0) return;
  const int64_t row_bytes = k.numel() / tokens * static_cast<int64_t>(dtype_size(k.dtype));
  const int w = access_width(row_bytes, {k.data, v.data, k_cache.data, v_cache.data});
  SLUICE_DISPATCH_INDEX("reshape_and_cache", slot_mapping.dtype, I, {
    const I* slots = slot_mapping.ptr<const I>();
    switch (w) {
      case 16: launch_reshape<uint4, I>(k, v, k_cache, v_cache, slots, tokens, row_bytes, fault, stream); break;
      case 8: launch_reshape<uint2, I>(k, v, k_cache, v_cache, slots, tokens, row_bytes, fault, stream); break;
      case 4: launch_reshape<uint32_t, I>(k, v, k_cache, v_cache, slots, tokens, row_bytes, fault, stream); break;
      case 2: launch_reshape<uint16_t, I>(k, v, k_cache, v_cache, slots, tokens, row_bytes, fault, stream); break;
      default: launch_reshape<uint8_t, I>(k, v, k_cache, v_cache, slots, tokens, row_bytes, fault, stream); break;
    }
  });
}

void copy_blocks(const TensorRef& cache, const TensorRef& pairs, IndexFault* fault, cudaStream_t stream) {
  if (pairs.numel() == 0 || cache.numel() == 0) return;
  const int64_t block_bytes = cache.numel() / cache.dim(0) * static_cast<int64_t>(dtype_size(cache.dtype));
  switch (access_width(block_bytes, {cache.data})) {
    case 16: launch_copy<uint4>(cache, pairs, block_bytes, fault, stream); break;
    case 8: launch_copy<uint2>(cache, pairs, block_bytes, fault, stream); break;
    case 4: launch_copy<uint32_t>(cache, pairs, block_bytes, fault, stream); break;
    case 2: launch_copy<uint16_t>(cache, pairs, block_bytes, fault, stream); break;
    default: launch_copy<uint8_t>(cache, pairs, block_bytes, fault, stream); break;
  }
}

}  // namespace cuda
}  // namespace sluice
