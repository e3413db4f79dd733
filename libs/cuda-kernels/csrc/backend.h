// The C++ contract between the N-API binding layer and the compute backends.
// The binding layer validates every argument (shape, dtype, device, ranges) before dispatch,
// so a backend may assume well-formed inputs and only reports its own failures by throwing BackendError.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace sluice {

enum class DType : int { F32 = 0, F16 = 1, BF16 = 2, I32 = 3, I64 = 4, U8 = 5 };
enum class Device : int { CPU = 0, CUDA = 1 };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);

struct BackendError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// An index value out of range, found where the binding layer could not read it (a device-side check, or a copy
// the backend made to the host): E_RANGE naming the argument. what() reads "element i is v, outside [lo, hi) ...".
struct IndexRangeError : BackendError {
  IndexRangeError(std::string arg_name, const std::string& what) : BackendError(what), arg(std::move(arg_name)) {}
  std::string arg;
};

// An input shape this backend has no kernel for (e.g. a head dim): E_UNSUPPORTED.
struct UnsupportedError : BackendError {
  using BackendError::BackendError;
};

// A non-owning view of tensor memory; contiguous row-major unless stated otherwise.
struct TensorRef {
  void* data = nullptr;
  DType dtype = DType::F32;
  Device device = Device::CPU;
  std::vector<int64_t> shape;

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  int64_t dim(size_t i) const { return shape.at(i); }
  template <typename T> T* ptr() const { return static_cast<T*>(data); }
};

// Per-row sampling controls, see SamplingTensors in src/api.ts.
struct SamplingRefs {
  TensorRef temperature, top_k, top_p, min_p;
  TensorRef repetition_penalty, presence_penalty, frequency_penalty;
  TensorRef prompt_tokens, prompt_offsets, output_tokens, output_offsets;
  TensorRef seeds, steps;
};

// max_context_len of paged_attention_decode when the caller gives none: the block tables' capacity bounds it.
constexpr int64_t kNoMaxContextLen = -1;

struct MemoryStats {
  size_t allocated_bytes = 0;
  size_t cached_bytes = 0;
  size_t total_device_bytes = 0;
  size_t free_device_bytes = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;

  // Memory: a caching pool, so steady-state steps reuse freed blocks instead of allocating.
  virtual void* allocate(size_t bytes) = 0;
  virtual void release(void* ptr, size_t bytes) = 0;
  virtual void copy_from_host(void* dst, const void* src, size_t bytes) = 0;
  virtual void copy_to_host(void* dst, const void* src, size_t bytes) = 0;
  virtual void synchronize() = 0;
  virtual MemoryStats memory_stats() const = 0;
  // Returns the pool's cached (freed, unused) blocks to the device or the system, e.g. buffers freed after load.
  virtual void empty_cache() = 0;
  // Whether index values on the device are range-checked (E_RANGE) rather than only skipped; see SLUICE_DEVICE_CHECKS.
  virtual bool device_index_checks() const { return false; }
  // Page-locked host memory for swapped-out KV blocks (plain pooled host memory on CPU).
  virtual void* allocate_pinned(size_t bytes) = 0;
  virtual void release_pinned(void* ptr, size_t bytes) = 0;

  // Ordering and graphs. Ops run on the backend's current compute stream in call order; CPU runs them
  // synchronously, so its events are timestamps and it reports no graph support.
  virtual int create_event() = 0;
  virtual void record_event(int event) = 0;
  virtual void wait_event(int event) = 0;           // host blocks until the event has completed
  virtual float elapsed_ms(int start, int end) = 0;  // between two recorded, completed events
  virtual void destroy_event(int event) = 0;
  virtual bool supports_graphs() const = 0;
  virtual void begin_capture() = 0;  // every op until end_capture is recorded, not run
  virtual int end_capture() = 0;     // returns a graph id for replay
  virtual void replay(int graph) = 0;
  virtual void destroy_graph(int graph) = 0;

  // Ops (semantics documented in src/api.ts).
  virtual void embedding(const TensorRef& out, const TensorRef& table, const TensorRef& ids) = 0;
  virtual void scatter(const TensorRef& dst, const TensorRef& indices, const TensorRef& src) = 0;
  // Same dtype and numel; either side may be device or pinned host memory; queued in stream order.
  virtual void copy(const TensorRef& dst, const TensorRef& src) = 0;
  virtual void rms_norm(const TensorRef& out, const TensorRef& x, const TensorRef& weight, float eps) = 0;
  virtual void fused_add_rms_norm(const TensorRef& x, const TensorRef& residual, const TensorRef& weight,
                                  float eps) = 0;
  virtual void rotary_embedding(const TensorRef& positions, const TensorRef& q, const TensorRef& k,
                                int head_dim, const TensorRef& cos_sin) = 0;
  virtual void gemm(const TensorRef& out, const TensorRef& a, const TensorRef& w, const TensorRef* bias) = 0;
  virtual void silu_and_mul(const TensorRef& out, const TensorRef& x) = 0;
  virtual void reshape_and_cache(const TensorRef& k, const TensorRef& v, const TensorRef& k_cache,
                                 const TensorRef& v_cache, const TensorRef& slot_mapping) = 0;
  virtual void split_qkv_rotary_cache(const TensorRef& q, const TensorRef& qkv, const TensorRef& positions,
                                      const TensorRef& cos_sin, const TensorRef& k_cache, const TensorRef& v_cache,
                                      const TensorRef& slot_mapping) = 0;
  virtual void paged_attention_decode(const TensorRef& out, const TensorRef& q, const TensorRef& k_cache,
                                      const TensorRef& v_cache, const TensorRef& block_tables,
                                      const TensorRef& context_lens, float scale, int64_t max_context_len) = 0;
  virtual void prefill_attention(const TensorRef& out, const TensorRef& q, const TensorRef& k_cache,
                                 const TensorRef& v_cache, const TensorRef& cu_seqlens_q,
                                 const TensorRef& block_tables, const TensorRef& context_lens, float scale) = 0;
  virtual void copy_blocks(const std::vector<TensorRef>& caches, const TensorRef& pairs) = 0;
  virtual void swap_blocks(const TensorRef& src, const TensorRef& dst, const TensorRef& pairs) = 0;
  virtual void sample(const TensorRef& out, const TensorRef& logits, const SamplingRefs& params) = 0;
  virtual void log_softmax_topk(const TensorRef& values, const TensorRef& indices, const TensorRef& logits,
                                int k) = 0;
  virtual void gather_logprobs(const TensorRef& out, const TensorRef& logits, const TensorRef& tokens) = 0;
  virtual void argmax(const TensorRef& out, const TensorRef& logits) = 0;
  // Structured output: logits[b, v] = -inf where bit v % 32 of bitmask[b, v / 32] is 0 (in place).
  virtual void apply_token_bitmask(const TensorRef& logits, const TensorRef& bitmask) = 0;
};

}  // namespace sluice
