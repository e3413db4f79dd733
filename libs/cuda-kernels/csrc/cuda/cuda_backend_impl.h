// CudaBackend: sluice::Backend on one device and one compute stream. Everything but GEMM lives here and needs
// only the CUDA runtime, so it is compiled by the CI check; GEMM is injected by the cuBLAS part (cublas_gemm.cc).
#pragma once

#include <cuda_runtime.h>

#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "backend.h"
#include "caching_allocator.h"
#include "kernels.h"

namespace sluice {
namespace cuda {

// out[M,N] = a[M,K] · w[N,K]ᵀ on `stream`; the bias epilogue is applied by the backend.
class GemmEngine {
 public:
  virtual ~GemmEngine() = default;
  virtual void gemm(const TensorRef& out, const TensorRef& a, const TensorRef& w, cudaStream_t stream) = 0;
};

// Scratch buffers that only grow. A superseded buffer is kept until destruction, because a captured graph may
// still point into it.
class GrowingWorkspace : public Workspace {
 public:
  GrowingWorkspace(cudaStream_t stream, bool zeroed) : stream_(stream), zeroed_(zeroed) {}
  ~GrowingWorkspace() override;
  void* get(size_t bytes) override;

 private:
  cudaStream_t stream_;
  bool zeroed_;  // new buffers are cleared on the stream; their users leave them cleared
  void* current_ = nullptr;
  size_t capacity_ = 0;
  std::vector<void*> retired_;
};

class CudaBackend : public Backend {
 public:
  using GemmFactory = std::function<std::unique_ptr<GemmEngine>(cudaStream_t)>;
  CudaBackend(int device, const GemmFactory& make_gemm);
  ~CudaBackend() override;

  Device device() const override { return Device::CUDA; }
  void* allocate(size_t bytes) override;
  void release(void* ptr, size_t bytes) override;
  void copy_from_host(void* dst, const void* src, size_t bytes) override;
  void copy_to_host(void* dst, const void* src, size_t bytes) override;
  void synchronize() override;
  MemoryStats memory_stats() const override;
  void empty_cache() override;
  bool device_index_checks() const override { return fault_ != nullptr; }
  void* allocate_pinned(size_t bytes) override;
  void release_pinned(void* ptr, size_t bytes) override;

  int create_event() override;
  void record_event(int event) override;
  void wait_event(int event) override;
  float elapsed_ms(int start, int end) override;
  void destroy_event(int event) override;
  bool supports_graphs() const override { return true; }
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
                              const TensorRef& v_cache, const TensorRef& block_tables,
                              const TensorRef& context_lens, float scale, int64_t max_context_len) override;
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
  void activate() const;  // makes this backend's device current on the calling thread
  cudaEvent_t event(int id);
  std::vector<int32_t> pairs_on_host(const TensorRef& pairs);
  // Checks on: waits for the op just queued and throws IndexRangeError for the first bad index it met.
  void report_index_fault();

  int device_;
  cudaStream_t stream_ = nullptr;
  CachingAllocator allocator_;
  std::unique_ptr<GrowingWorkspace> scratch_;
  std::unique_ptr<GrowingWorkspace> zeroed_;
  std::unique_ptr<GemmEngine> gemm_;
  IndexFault* fault_ = nullptr;  // device memory; allocated only when SLUICE_DEVICE_CHECKS is on
  std::mutex mu_;  // guards the event and graph tables
  int next_id_ = 1;
  std::unordered_map<int, cudaEvent_t> events_;
  std::unordered_map<int, cudaGraphExec_t> graphs_;
};

}  // namespace cuda
}  // namespace sluice
