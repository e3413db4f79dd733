#include "cuda_backend_impl.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "check.h"
#include "cuda_backend.h"

namespace sluice {
namespace cuda {

GrowingWorkspace::~GrowingWorkspace() {
  // Teardown must not throw; a failure here can only mean the context is already gone.
  if (current_) cudaFree(current_);
  for (void* p : retired_) cudaFree(p);
}

void* GrowingWorkspace::get(size_t bytes) {
  if (bytes <= capacity_) return current_;
  const size_t size = std::max(bytes, capacity_ * 2);
  void* p = nullptr;
  SLUICE_CUDA_CHECK(cudaMalloc(&p, size));
  if (zeroed_) SLUICE_CUDA_CHECK(cudaMemsetAsync(p, 0, size, stream_));
  if (current_) retired_.push_back(current_);
  current_ = p;
  capacity_ = size;
  return p;
}

namespace {

// SLUICE_DEVICE_CHECKS=1 (the kernel test suite sets it): kernels record bad index values and every op that reads
// indices waits for its kernels to report them. A debugging aid: it costs a stream sync per such op.
bool device_checks_requested() {
  const char* v = std::getenv("SLUICE_DEVICE_CHECKS");
  if (v == nullptr) return false;
  for (const char* on : {"1", "true", "on", "yes"})
    if (std::strcmp(v, on) == 0) return true;
  return false;
}

const char* index_arg_name(int32_t arg) {
  switch (arg) {
    case kArgIds: return "ids";
    case kArgIndices: return "indices";
    case kArgPositions: return "positions";
    case kArgSlotMapping: return "slotMapping";
    case kArgBlockTables: return "blockTables";
    case kArgContextLens: return "contextLens";
    case kArgCuSeqlensQ: return "cuSeqlensQ";
    case kArgPairs: return "pairs";
    case kArgPromptTokens: return "params.promptTokens";
    case kArgOutputTokens: return "params.outputTokens";
    case kArgTokens: return "tokens";
    case kArgPromptOffsets: return "params.promptOffsets";
    case kArgOutputOffsets: return "params.outputOffsets";
  }
  return "?";
}

}  // namespace

CudaBackend::CudaBackend(int device, const GemmFactory& make_gemm) : device_(device), allocator_(device) {
  activate();
  SLUICE_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  if (device_checks_requested()) {
    SLUICE_CUDA_CHECK(cudaMalloc(&fault_, sizeof(IndexFault)));
    SLUICE_CUDA_CHECK(cudaMemset(fault_, 0, sizeof(IndexFault)));
  }
  scratch_ = std::make_unique<GrowingWorkspace>(stream_, false);
  zeroed_ = std::make_unique<GrowingWorkspace>(stream_, true);
  gemm_ = make_gemm(stream_);
}

CudaBackend::~CudaBackend() {
  // Teardown must not throw: CUDA errors are ignored here (at process exit the driver may be gone).
  cudaSetDevice(device_);
  cudaStreamSynchronize(stream_);
  for (auto& [id, e] : events_) cudaEventDestroy(e);
  for (auto& [id, g] : graphs_) cudaGraphExecDestroy(g);
  gemm_.reset();
  scratch_.reset();
  zeroed_.reset();
  if (fault_) cudaFree(fault_);
  cudaStreamDestroy(stream_);
}

void CudaBackend::activate() const { SLUICE_CUDA_CHECK(cudaSetDevice(device_)); }

// ---- memory

void* CudaBackend::allocate(size_t bytes) {
  activate();
  return allocator_.allocate(bytes);
}

void CudaBackend::release(void* ptr, size_t bytes) { allocator_.release(ptr, bytes); }

void CudaBackend::copy_from_host(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  activate();
  // From pageable memory this returns once the source is staged, so the caller may reuse it at once.
  SLUICE_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, stream_));
}

void CudaBackend::copy_to_host(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  activate();
  SLUICE_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, stream_));
  SLUICE_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaBackend::synchronize() {
  activate();
  SLUICE_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

MemoryStats CudaBackend::memory_stats() const {
  activate();
  MemoryStats s;
  s.allocated_bytes = allocator_.allocated_bytes();
  s.cached_bytes = allocator_.cached_bytes();
  SLUICE_CUDA_CHECK(cudaMemGetInfo(&s.free_device_bytes, &s.total_device_bytes));
  return s;
}

void CudaBackend::empty_cache() {
  activate();
  SLUICE_CUDA_CHECK(cudaStreamSynchronize(stream_));  // no queued op still uses a cached block
  allocator_.empty_cache();
}

void CudaBackend::report_index_fault() {
  if (fault_ == nullptr) return;
  cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
  SLUICE_CUDA_CHECK(cudaStreamIsCapturing(stream_, &capturing));
  if (capturing != cudaStreamCaptureStatusNone) return;  // a captured op runs at replay; its faults stay recorded
  IndexFault f{};
  SLUICE_CUDA_CHECK(cudaMemcpyAsync(&f, fault_, sizeof(f), cudaMemcpyDeviceToHost, stream_));
  SLUICE_CUDA_CHECK(cudaStreamSynchronize(stream_));
  if (f.flag == 0) return;
  SLUICE_CUDA_CHECK(cudaMemsetAsync(fault_, 0, sizeof(IndexFault), stream_));
  throw IndexRangeError(index_arg_name(f.arg), "element " + std::to_string(f.element) + " is " +
                                                   std::to_string(f.value) + ", outside [" + std::to_string(f.lo) +
                                                   ", " + std::to_string(f.hi) + ") (device-side check)");
}

void* CudaBackend::allocate_pinned(size_t bytes) {
  activate();
  void* p = nullptr;
  SLUICE_CUDA_CHECK(cudaHostAlloc(&p, std::max<size_t>(bytes, 1), cudaHostAllocPortable));
  return p;
}

void CudaBackend::release_pinned(void* ptr, size_t) {
  if (ptr == nullptr) return;
  activate();
  SLUICE_CUDA_CHECK(cudaFreeHost(ptr));  // synchronises, so no swap still reads or writes it
}

// ---- events and graphs

cudaEvent_t CudaBackend::event(int id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = events_.find(id);
  if (it == events_.end()) throw BackendError("cuda: unknown event " + std::to_string(id));
  return it->second;
}

int CudaBackend::create_event() {
  activate();
  cudaEvent_t e;
  SLUICE_CUDA_CHECK(cudaEventCreate(&e));
  std::lock_guard<std::mutex> lock(mu_);
  events_[next_id_] = e;
  return next_id_++;
}

void CudaBackend::record_event(int id) {
  activate();
  SLUICE_CUDA_CHECK(cudaEventRecord(event(id), stream_));
}

void CudaBackend::wait_event(int id) {
  activate();
  SLUICE_CUDA_CHECK(cudaEventSynchronize(event(id)));
}

float CudaBackend::elapsed_ms(int start, int end) {
  activate();
  float ms = 0.f;
  SLUICE_CUDA_CHECK(cudaEventElapsedTime(&ms, event(start), event(end)));
  return ms;
}

void CudaBackend::destroy_event(int id) {
  activate();
  cudaEvent_t e = event(id);
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_.erase(id);
  }
  SLUICE_CUDA_CHECK(cudaEventDestroy(e));
}

void CudaBackend::begin_capture() {
  activate();
  // Relaxed: a workspace that must grow during capture may still call cudaMalloc.
  SLUICE_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeRelaxed));
}

int CudaBackend::end_capture() {
  activate();
  cudaGraph_t graph = nullptr;
  SLUICE_CUDA_CHECK(cudaStreamEndCapture(stream_, &graph));
  cudaGraphExec_t exec = nullptr;
  const cudaError_t err = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);  // the executable graph holds its own copy
  SLUICE_CUDA_CHECK(err);
  std::lock_guard<std::mutex> lock(mu_);
  graphs_[next_id_] = exec;
  return next_id_++;
}

void CudaBackend::replay(int id) {
  activate();
  cudaGraphExec_t exec;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = graphs_.find(id);
    if (it == graphs_.end()) throw BackendError("cuda replay: unknown graph " + std::to_string(id));
    exec = it->second;
  }
  SLUICE_CUDA_CHECK(cudaGraphLaunch(exec, stream_));
}

void CudaBackend::destroy_graph(int id) {
  activate();
  cudaGraphExec_t exec;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = graphs_.find(id);
    if (it == graphs_.end()) throw BackendError("cuda destroy_graph: unknown graph " + std::to_string(id));
    exec = it->second;
    graphs_.erase(it);
  }
  SLUICE_CUDA_CHECK(cudaGraphExecDestroy(exec));
}

// ---- ops

void CudaBackend::embedding(const TensorRef& out, const TensorRef& table, const TensorRef& ids) {
  activate();
  cuda::embedding(out, table, ids, fault_, stream_);
  report_index_fault();
}

// Asynchronous even into pinned host memory: a reader waits on an event recorded after it, not on the stream.
void CudaBackend::copy(const TensorRef& dst, const TensorRef& src) {
  const size_t bytes = static_cast<size_t>(src.numel()) * dtype_size(src.dtype);
  if (bytes == 0) return;
  activate();
  SLUICE_CUDA_CHECK(cudaMemcpyAsync(dst.data, src.data, bytes, cudaMemcpyDefault, stream_));
}

void CudaBackend::scatter(const TensorRef& dst, const TensorRef& indices, const TensorRef& src) {
  activate();
  cuda::scatter(dst, indices, src, fault_, stream_);
  report_index_fault();
}

void CudaBackend::rms_norm(const TensorRef& out, const TensorRef& x, const TensorRef& weight, float eps) {
  activate();
  cuda::rms_norm(out, x, weight, eps, stream_);
}

void CudaBackend::fused_add_rms_norm(const TensorRef& x, const TensorRef& residual, const TensorRef& weight,
                                     float eps) {
  activate();
  cuda::fused_add_rms_norm(x, residual, weight, eps, stream_);
}

void CudaBackend::rotary_embedding(const TensorRef& positions, const TensorRef& q, const TensorRef& k, int head_dim,
                                   const TensorRef& cos_sin) {
  activate();
  cuda::rotary_embedding(positions, q, k, head_dim, cos_sin, fault_, stream_);
  report_index_fault();
}

void CudaBackend::gemm(const TensorRef& out, const TensorRef& a, const TensorRef& w, const TensorRef* bias) {
  activate();
  if (out.numel() == 0) return;
  gemm_->gemm(out, a, w, stream_);
  if (bias) cuda::add_bias(out, *bias, stream_);
}

void CudaBackend::silu_and_mul(const TensorRef& out, const TensorRef& x) {
  activate();
  cuda::silu_and_mul(out, x, stream_);
}

void CudaBackend::reshape_and_cache(const TensorRef& k, const TensorRef& v, const TensorRef& k_cache,
                                    const TensorRef& v_cache, const TensorRef& slot_mapping) {
  activate();
  cuda::reshape_and_cache(k, v, k_cache, v_cache, slot_mapping, fault_, stream_);
  report_index_fault();
}

void CudaBackend::split_qkv_rotary_cache(const TensorRef& q, const TensorRef& qkv, const TensorRef& positions,
                                         const TensorRef& cos_sin, const TensorRef& k_cache,
                                         const TensorRef& v_cache, const TensorRef& slot_mapping) {
  activate();
  cuda::split_qkv_rotary_cache(q, qkv, positions, cos_sin, k_cache, v_cache, slot_mapping, fault_, stream_);
  report_index_fault();
}

void CudaBackend::paged_attention_decode(const TensorRef& out, const TensorRef& q, const TensorRef& k_cache,
                                         const TensorRef& v_cache, const TensorRef& block_tables,
                                         const TensorRef& context_lens, float scale, int64_t max_context_len) {
  activate();
  cuda::paged_attention_decode(out, q, k_cache, v_cache, block_tables, context_lens, scale, max_context_len,
                               *scratch_, fault_, stream_);
  report_index_fault();
}

void CudaBackend::prefill_attention(const TensorRef& out, const TensorRef& q, const TensorRef& k_cache,
                                    const TensorRef& v_cache, const TensorRef& cu_seqlens_q,
                                    const TensorRef& block_tables, const TensorRef& context_lens, float scale) {
  activate();
  cuda::prefill_attention(out, q, k_cache, v_cache, cu_seqlens_q, block_tables, context_lens, scale, fault_, stream_);
  report_index_fault();
}

std::vector<int32_t> CudaBackend::pairs_on_host(const TensorRef& pairs) {
  std::vector<int32_t> host(static_cast<size_t>(pairs.numel()));
  if (host.empty()) return host;
  if (pairs.device == Device::CPU) {
    std::copy_n(pairs.ptr<const int32_t>(), host.size(), host.data());
  } else {
    copy_to_host(host.data(), pairs.data, host.size() * sizeof(int32_t));
  }
  return host;
}

void CudaBackend::copy_blocks(const std::vector<TensorRef>& caches, const TensorRef& pairs) {
  activate();
  if (pairs.numel() == 0) return;
  TensorRef device_pairs = pairs;
  if (pairs.device == Device::CPU) {  // stage the pair list on the device once for all caches
    const size_t bytes = static_cast<size_t>(pairs.numel()) * sizeof(int32_t);
    device_pairs.data = scratch_->get(bytes);
    device_pairs.device = Device::CUDA;
    SLUICE_CUDA_CHECK(cudaMemcpyAsync(device_pairs.data, pairs.data, bytes, cudaMemcpyHostToDevice, stream_));
  }
  for (const TensorRef& cache : caches) cuda::copy_blocks(cache, device_pairs, fault_, stream_);
  report_index_fault();
}

void CudaBackend::swap_blocks(const TensorRef& src, const TensorRef& dst, const TensorRef& pairs) {
  activate();
  const std::vector<int32_t> p = pairs_on_host(pairs);
  if (p.empty() || src.numel() == 0) return;
  // The pairs are on the host now, so they are always checked: a bad one would copy past a cache or pinned buffer.
  for (size_t i = 0; i < p.size(); i++) {
    const int64_t limit = i % 2 ? dst.dim(0) : src.dim(0);
    if (p[i] < 0 || p[i] >= limit) {
      throw IndexRangeError("pairs", std::string(i % 2 ? "dst" : "src") + " block id " + std::to_string(p[i]) +
                                         " in row " + std::to_string(i / 2) + " is outside [0, " +
                                         std::to_string(limit) + ")");
    }
  }
  const size_t block = static_cast<size_t>(src.numel() / src.dim(0)) * dtype_size(src.dtype);
  const char* s = static_cast<const char*>(src.data);
  char* d = static_cast<char*>(dst.data);
  // Runs of pairs that are consecutive on both sides move as one copy.
  const size_t n = p.size() / 2;
  for (size_t i = 0; i < n;) {
    size_t run = 1;
    while (i + run < n && p[2 * (i + run)] == p[2 * i] + static_cast<int32_t>(run) &&
           p[2 * (i + run) + 1] == p[2 * i + 1] + static_cast<int32_t>(run)) {
      run++;
    }
    SLUICE_CUDA_CHECK(cudaMemcpyAsync(d + static_cast<size_t>(p[2 * i + 1]) * block,
                                      s + static_cast<size_t>(p[2 * i]) * block, run * block, cudaMemcpyDefault,
                                      stream_));
    i += run;
  }
}

void CudaBackend::sample(const TensorRef& out, const TensorRef& logits, const SamplingRefs& params) {
  activate();
  cuda::sample(out, logits, params, *scratch_, *zeroed_, fault_, stream_);
  report_index_fault();
}

void CudaBackend::log_softmax_topk(const TensorRef& values, const TensorRef& indices, const TensorRef& logits, int k) {
  activate();
  cuda::log_softmax_topk(values, indices, logits, k, stream_);
}

void CudaBackend::gather_logprobs(const TensorRef& out, const TensorRef& logits, const TensorRef& tokens) {
  activate();
  cuda::gather_logprobs(out, logits, tokens, fault_, stream_);
  report_index_fault();
}

void CudaBackend::argmax(const TensorRef& out, const TensorRef& logits) {
  activate();
  cuda::argmax(out, logits, stream_);
}

void CudaBackend::apply_token_bitmask(const TensorRef& logits, const TensorRef& bitmask) {
  activate();
  cuda::apply_token_bitmask(logits, bitmask, stream_);
}

}  // namespace cuda

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // no driver or no device: report none
    return 0;
  }
  return n;
}

}  // namespace sluice
