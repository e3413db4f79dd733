// The CPU backend: every op in f32 on a persistent thread pool, memory from a caching pool.
#pragma once

#include <algorithm>
#include <chrono>
#include <memory>
#include <unordered_map>
#include <vector>

#include "backend.h"
#include "cpu/host_memory.h"
#include "cpu/thread_pool.h"

namespace sluice {

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads);

  Device device() const override { return Device::CPU; }
  void* allocate(size_t bytes) override { return pool_.allocate(bytes); }
  void release(void* ptr, size_t bytes) override { pool_.release(ptr, bytes); }
  void copy_from_host(void* dst, const void* src, size_t bytes) override;
  void copy_to_host(void* dst, const void* src, size_t bytes) override;
  void synchronize() override {}
  MemoryStats memory_stats() const override;
  void empty_cache() override { pool_.empty_cache(); }
  void* allocate_pinned(size_t bytes) override { return pool_.allocate(bytes); }
  void release_pinned(void* ptr, size_t bytes) override { pool_.release(ptr, bytes); }

  int create_event() override;
  void record_event(int event) override;
  void wait_event(int event) override;
  float elapsed_ms(int start, int end) override;
  void destroy_event(int event) override;
  bool supports_graphs() const override { return false; }
  void begin_capture() override;
  int end_capture() override;
  void replay(int graph) override;
  void destroy_graph(int graph) override;

  void embedding(const TensorRef& out, const TensorRef& table, const TensorRef& ids) override;
  void scatter(const TensorRef& dst, const TensorRef& indices, const TensorRef& src) override;
  void copy(const TensorRef& dst, const TensorRef& src) override;
  void rms_norm(const TensorRef& out, const TensorRef& x, const TensorRef& weight, float eps) override;
  void fused_add_rms_norm(const TensorRef& x, const TensorRef& residual, const TensorRef& weight, float eps) override;
  void rotary_embedding(const TensorRef& positions, const TensorRef& q, const TensorRef& k, int head_dim,
                        const TensorRef& cos_sin) override;
  void gemm(const TensorRef& out, const TensorRef& a, const TensorRef& w, const TensorRef* bias) override;
  void silu_and_mul(const TensorRef& out, const TensorRef& x) override;
  void reshape_and_cache(const TensorRef& k, const TensorRef& v, const TensorRef& k_cache, const TensorRef& v_cache,
                         const TensorRef& slot_mapping) override;
  void split_qkv_rotary_cache(const TensorRef& q, const TensorRef& qkv, const TensorRef& positions,
                              const TensorRef& cos_sin, const TensorRef& k_cache, const TensorRef& v_cache,
                              const TensorRef& slot_mapping) override;
  void paged_attention_decode(const TensorRef& out, const TensorRef& q, const TensorRef& k_cache,
                              const TensorRef& v_cache, const TensorRef& block_tables, const TensorRef& context_lens,
                              float scale, int64_t max_context_len) override;
  void prefill_attention(const TensorRef& out, const TensorRef& q, const TensorRef& k_cache, const TensorRef& v_cache,
                         const TensorRef& cu_seqlens_q, const TensorRef& block_tables, const TensorRef& context_lens,
                         float scale) override;
  void copy_blocks(const std::vector<TensorRef>& caches, const TensorRef& pairs) override;
  void swap_blocks(const TensorRef& src, const TensorRef& dst, const TensorRef& pairs) override;
  void sample(const TensorRef& out, const TensorRef& logits, const SamplingRefs& params) override;
  void log_softmax_topk(const TensorRef& values, const TensorRef& indices, const TensorRef& logits, int k) override;
  void gather_logprobs(const TensorRef& out, const TensorRef& logits, const TensorRef& tokens) override;
  void argmax(const TensorRef& out, const TensorRef& logits) override;
  void apply_token_bitmask(const TensorRef& logits, const TensorRef& bitmask) override;

 private:
  HostPool pool_;
  ThreadPool threads_;
  std::unordered_map<int, std::chrono::steady_clock::time_point> events_;
  int next_event_ = 1;
};

// Element i of an index tensor (i32 or i64).
inline int64_t cpu_index(const TensorRef& t, int64_t i) {
  return t.dtype == DType::I64 ? t.ptr<int64_t>()[i] : static_cast<int64_t>(t.ptr<int32_t>()[i]);
}
// Rows per parallel task so a chunk is at least ~16K elements of work.
inline int64_t cpu_grain_rows(int64_t width) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, width)); }

// Writes n f32 values to a KV cache from element `at` on: copied into an f32 cache, rounded to nearest even
// into a bf16 one.
void cpu_store_kv(const TensorRef& cache, int64_t at, const float* src, int64_t n);

// Kernels, one file each, shared by the backend methods above.
// w is f32, or bf16 when w_bf16 (widened exactly, f32 accumulation).
void cpu_gemm(ThreadPool& pool, float* out, const float* a, const void* w, bool w_bf16, const float* bias, int64_t M,
              int64_t N, int64_t K);
// Neox rotation of `heads` rows of D floats in place by cs = cos[D/2] ++ sin[D/2]. The one copy of the formula
// (out of line, so fused and unfused callers run the same instructions and agree bit for bit).
void cpu_rotate_heads(float* x, int64_t heads, int64_t D, const float* cs);
void cpu_rotary_embedding(ThreadPool& pool, const TensorRef& positions, const TensorRef& q, const TensorRef& k,
                          int head_dim, const TensorRef& cos_sin);
void cpu_split_qkv_rotary_cache(ThreadPool& pool, const TensorRef& q, const TensorRef& qkv,
                                const TensorRef& positions, const TensorRef& cos_sin, const TensorRef& k_cache,
                                const TensorRef& v_cache, const TensorRef& slot_mapping);
void cpu_paged_decode(ThreadPool& pool, const TensorRef& out, const TensorRef& q, const TensorRef& k_cache,
                      const TensorRef& v_cache, const TensorRef& block_tables, const TensorRef& context_lens,
                      float scale);
void cpu_prefill_attention(ThreadPool& pool, const TensorRef& out, const TensorRef& q, const TensorRef& k_cache,
                           const TensorRef& v_cache, const TensorRef& cu_seqlens_q, const TensorRef& block_tables,
                           const TensorRef& context_lens, float scale);
void cpu_sample(ThreadPool& pool, const TensorRef& out, const TensorRef& logits, const SamplingRefs& params);
void cpu_log_softmax_topk(ThreadPool& pool, const TensorRef& values, const TensorRef& indices,
                          const TensorRef& logits, int k);
void cpu_gather_logprobs(ThreadPool& pool, const TensorRef& out, const TensorRef& logits, const TensorRef& tokens);
void cpu_argmax(ThreadPool& pool, const TensorRef& out, const TensorRef& logits);
void cpu_apply_token_bitmask(ThreadPool& pool, const TensorRef& logits, const TensorRef& bitmask);

}  // namespace sluice
