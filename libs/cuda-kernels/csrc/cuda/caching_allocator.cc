#include "caching_allocator.h"

#include <cuda_runtime.h>

#include <string>

#include "backend.h"
#include "check.h"

namespace sluice {
namespace cuda {

namespace {
constexpr size_t kSmallStep = 512;
constexpr size_t kSmallLimit = size_t{1} << 20;
constexpr size_t kLargeStep = size_t{2} << 20;

BackendError allocation_error(const PoolRequest& req, cudaError_t err) {
  return BackendError("cuda allocate: cannot allocate " + std::to_string(req.bytes) + " bytes (" +
                      std::to_string(req.in_use) + " in use): " + cudaGetErrorString(err));
}
}  // namespace

size_t DeviceMemory::step(size_t bytes) { return bytes <= kSmallLimit ? kSmallStep : kLargeStep; }

void* DeviceMemory::obtain(const PoolRequest& req) {
  void* p = nullptr;
  const cudaError_t err = cudaMalloc(&p, req.size);
  if (err == cudaSuccess) return p;
  cudaGetLastError();  // clear the (non-sticky) error before the pool retries or reports it
  if (err != cudaErrorMemoryAllocation) throw allocation_error(req, err);
  return nullptr;
}

void DeviceMemory::fail(const PoolRequest& req) { throw allocation_error(req, cudaErrorMemoryAllocation); }

void DeviceMemory::give_back(void* ptr) { SLUICE_CUDA_CHECK(cudaFree(ptr)); }

void DeviceMemory::give_back_at_exit(void* ptr) noexcept {
  // Teardown must not throw: errors here (e.g. a context already destroyed at process exit) are ignored.
  cudaSetDevice(device_);
  cudaFree(ptr);
}

}  // namespace cuda
}  // namespace sluice
