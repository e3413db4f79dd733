// Host entry points of the CUDA kernels. Each enqueues its work on `stream` and returns at once;
// arguments are already validated by the binding layer, so these only map shapes to launch grids.
#pragma once

#include <cuda_runtime.h>

#include <vector>

#include "backend.h"
#include "index_check.h"

namespace sluice {
namespace cuda {

// Ops that read index values take `fault`: where to record the first out-of-range one (nullptr: checks off).
// Out-of-range indices are skipped either way (index_check.h).

// Device scratch memory that an op may use for the duration of its launch (stream-ordered reuse).
struct Workspace {
  virtual ~Workspace() = default;
  // A buffer of at least `bytes`, valid until the next call; contents are unspecified.
  virtual void* get(size_t bytes) = 0;
};

// elementwise.cu
void embedding(const TensorRef& out, const TensorRef& table, const TensorRef& ids, IndexFault* fault,
               cudaStream_t stream);
// Indices outside [0, dst.numel) are skipped (negative ones by contract; too-large ones are also faults).
void scatter(const TensorRef& dst, const TensorRef& indices, const TensorRef& src, IndexFault* fault,
             cudaStream_t stream);
void rms_norm(const TensorRef& out, const TensorRef& x, const TensorRef& weight, float eps, cudaStream_t stream);
void fused_add_rms_norm(const TensorRef& x, const TensorRef& residual, const TensorRef& weight, float eps,
                        cudaStream_t stream);
void rotary_embedding(const TensorRef& positions, const TensorRef& q, const TensorRef& k, int head_dim,
                      const TensorRef& cos_sin, IndexFault* fault, cudaStream_t stream);
void silu_and_mul(const TensorRef& out, const TensorRef& x, cudaStream_t stream);
void add_bias(const TensorRef& out, const TensorRef& bias, cudaStream_t stream);

// cache_ops.cu
void reshape_and_cache(const TensorRef& k, const TensorRef& v, const TensorRef& k_cache, const TensorRef& v_cache,
                       const TensorRef& slot_mapping, IndexFault* fault, cudaStream_t stream);
// pairs: i32 [P, 2] in device memory.
void copy_blocks(const TensorRef& cache, const TensorRef& pairs, IndexFault* fault, cudaStream_t stream);

// qkv_rotary_cache.cu
void split_qkv_rotary_cache(const TensorRef& q, const TensorRef& qkv, const TensorRef& positions,
                            const TensorRef& cos_sin, const TensorRef& k_cache, const TensorRef& v_cache,
                            const TensorRef& slot_mapping, IndexFault* fault, cudaStream_t stream);

// paged_attention.cu
void paged_attention_decode(const TensorRef& out, const TensorRef& q, const TensorRef& k_cache,
                            const TensorRef& v_cache, const TensorRef& block_tables, const TensorRef& context_lens,
                            float scale, int64_t max_context_len, Workspace& ws, IndexFault* fault,
                            cudaStream_t stream);

// prefill_attention.cu
void prefill_attention(const TensorRef& out, const TensorRef& q, const TensorRef& k_cache, const TensorRef& v_cache,
                       const TensorRef& cu_seqlens_q, const TensorRef& block_tables, const TensorRef& context_lens,
                       float scale, IndexFault* fault, cudaStream_t stream);

// sampling.cu
// `zeroed` must read as zeros on entry and is left zeroed.
// Penalty token ids outside [0, V) are skipped, so `zeroed` stays zeroed whatever the ids.
void sample(const TensorRef& out, const TensorRef& logits, const SamplingRefs& params, Workspace& scratch, Workspace& zeroed,
            IndexFault* fault, cudaStream_t stream);
void log_softmax_topk(const TensorRef& values, const TensorRef& indices, const TensorRef& logits, int k,
                      cudaStream_t stream);
void gather_logprobs(const TensorRef& out, const TensorRef& logits, const TensorRef& tokens, IndexFault* fault,
                     cudaStream_t stream);
void argmax(const TensorRef& out, const TensorRef& logits, cudaStream_t stream);
void apply_token_bitmask(const TensorRef& logits, const TensorRef& bitmask, cudaStream_t stream);

}  // namespace cuda
}  // namespace sluice
