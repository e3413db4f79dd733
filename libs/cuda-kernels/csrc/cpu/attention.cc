// Paged attention entries: the kernel set cpu_isa() chose at load, over an f32 or a bf16 KV cache.
// The baseline (8-lane) kernels are instantiated here, with the build's base flags.
#include "cpu/attention_dispatch.h"
#include "cpu/attention_kernel.h"
#include "cpu/isa.h"
#include "cpu/vec8.h"

namespace sluice {

void cpu_paged_decode(ThreadPool& pool, const TensorRef& out, const TensorRef& q, const TensorRef& k_cache,
                      const TensorRef& v_cache, const TensorRef& block_tables, const TensorRef& context_lens,
                      float scale) {
#ifdef SLUICE_CPU_AVX512
  if (cpu_isa() != CpuIsa::Baseline) {
    return cpu_paged_decode_avx512(pool, out, q, k_cache, v_cache, block_tables, context_lens, scale);
  }
#endif
  if (k_cache.dtype == DType::BF16) {
    AttentionKernel<V8, uint16_t>::decode(pool, out, q, k_cache, v_cache, block_tables, context_lens, scale);
  } else {
    AttentionKernel<V8, float>::decode(pool, out, q, k_cache, v_cache, block_tables, context_lens, scale);
  }
}

void cpu_prefill_attention(ThreadPool& pool, const TensorRef& out, const TensorRef& q, const TensorRef& k_cache,
                           const TensorRef& v_cache, const TensorRef& cu_seqlens_q, const TensorRef& block_tables,
                           const TensorRef& context_lens, float scale) {
#ifdef SLUICE_CPU_AVX512
  if (cpu_isa() != CpuIsa::Baseline) {
    return cpu_prefill_attention_avx512(pool, out, q, k_cache, v_cache, cu_seqlens_q, block_tables, context_lens,
                                        scale);
  }
#endif
  if (k_cache.dtype == DType::BF16) {
    AttentionKernel<V8, uint16_t>::prefill(pool, out, q, k_cache, v_cache, cu_seqlens_q, block_tables, context_lens,
                                           scale);
  } else {
    AttentionKernel<V8, float>::prefill(pool, out, q, k_cache, v_cache, cu_seqlens_q, block_tables, context_lens,
                                        scale);
  }
}

}  // namespace sluice
