// Paged attention over 16-lane vectors, compiled with AVX-512 flags of its own (CMakeLists.txt) and run only when
// cpu_isa() chose AVX-512 (attention.cc).
#include "cpu/attention_dispatch.h"
#include "cpu/attention_kernel.h"
#include "cpu/vec16.h"

namespace sluice {

void cpu_paged_decode_avx512(ThreadPool& pool, const TensorRef& out, const TensorRef& q, const TensorRef& k_cache,
                             const TensorRef& v_cache, const TensorRef& block_tables, const TensorRef& context_lens,
                             float scale) {
  if (k_cache.dtype == DType::BF16) {
    AttentionKernel<V16, uint16_t>::decode(pool, out, q, k_cache, v_cache, block_tables, context_lens, scale);
  } else {
    AttentionKernel<V16, float>::decode(pool, out, q, k_cache, v_cache, block_tables, context_lens, scale);
  }
}

void cpu_prefill_attention_avx512(ThreadPool& pool, const TensorRef& out, const TensorRef& q,
                                  const TensorRef& k_cache, const TensorRef& v_cache, const TensorRef& cu_seqlens_q,
                                  const TensorRef& block_tables, const TensorRef& context_lens, float scale) {
  if (k_cache.dtype == DType::BF16) {
    AttentionKernel<V16, uint16_t>::prefill(pool, out, q, k_cache, v_cache, cu_seqlens_q, block_tables,
                                            context_lens, scale);
  } else {
    AttentionKernel<V16, float>::prefill(pool, out, q, k_cache, v_cache, cu_seqlens_q, block_tables, context_lens,
                                         scale);
  }
}

}  // namespace sluice
