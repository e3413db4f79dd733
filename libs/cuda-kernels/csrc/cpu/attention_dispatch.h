// One entry per instruction set for paged attention (attention.cc holds the baseline's and picks by cpu_isa()).
#pragma once

#include "backend.h"
#include "cpu/thread_pool.h"

namespace sluice {

// The AVX-512 kernels (attention_avx512.cc): f32 queries over an f32 or bf16 cache.
void cpu_paged_decode_avx512(ThreadPool& pool, const TensorRef& out, const TensorRef& q, const TensorRef& k_cache,
                             const TensorRef& v_cache, const TensorRef& block_tables, const TensorRef& context_lens,
                             float scale);
void cpu_prefill_attention_avx512(ThreadPool& pool, const TensorRef& out, const TensorRef& q,
                                  const TensorRef& k_cache, const TensorRef& v_cache, const TensorRef& cu_seqlens_q,
                                  const TensorRef& block_tables, const TensorRef& context_lens, float scale);

}  // namespace sluice
