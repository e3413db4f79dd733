#include "caching_allocator.h"

#include <cuda_runtime.h>

#include "check.h"

namespace sluice {
namespace cuda {

namespace {
constexpr size_t kSmallStep = 512;
constexpr size_t kSmallLimit = size_t{1} << 20;
constexpr size_t kLargeStep = size_t{2} << 20;
}  // namespace

size_t CachingAllocator::round_size(size_t bytes) {
  if (bytes == 0) bytes = 1;
  const size_t step = bytes <= kSmallLimit ? kSmallStep : kLargeStep;
  return (bytes + step - 1) / step * step;
}

CachingAllocator::~CachingAllocator() {
  // Teardown must not throw: errors here (e.g. a context already destroyed at process exit) are ignored.
  cudaSetDevice(device_);
  for (auto& [size, ptrs] : free_) {
    for (void* p : ptrs) cudaFree(p);
  }
}

void* CachingAllocator::allocate(size_t bytes) {
  const size_t size = round_size(bytes);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = free_.find(size);
  if (it != free_.end() && !it->second.empty()) {
    void* p = it->second.back();
    it->second.pop_back();
    cached_ -= size;
    allocated_ += size;
    return p;
  }
  void* p = nullptr;
  cudaError_t err = cudaMalloc(&p, size);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // clear the (non-sticky) allocation error before retrying
    drop_cached_locked();
    err = cudaMalloc(&p, size);
  }
  if (err != cudaSuccess) {
    cudaGetLastError();
    throw BackendError("cuda allocate: cannot allocate " + std::to_string(bytes) + " bytes (" +
                       std::to_string(allocated_) + " in use): " + cudaGetErrorString(err));
  }
  allocated_ += size;
  return p;
}

void CachingAllocator::release(void* ptr, size_t bytes) {
  if (ptr == nullptr) return;
  const size_t size = round_size(bytes);
  std::lock_guard<std::mutex> lock(mu_);
  free_[size].push_back(ptr);
  allocated_ -= size;
  cached_ += size;
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mu_);
  drop_cached_locked();
}

void CachingAllocator::drop_cached_locked() {
  for (auto& [size, ptrs] : free_) {
    for (void* p : ptrs) SLUICE_CUDA_CHECK(cudaFree(p));
  }
  free_.clear();
  cached_ = 0;
}

size_t CachingAllocator::allocated_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return allocated_;
}

size_t CachingAllocator::cached_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cached_;
}

}  // namespace cuda
}  // namespace sluice
