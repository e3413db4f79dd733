// The CUDA backend's caching allocator: the shared caching pool over cudaMalloc, so steady-state decode steps
// never reach cudaMalloc/cudaFree. Reuse is safe without events because every op runs on the backend's single
// compute stream, which orders the old and new users of a block.
#pragma once

#include <cstddef>

#include "caching_pool.h"

namespace sluice {
namespace cuda {

// Where the pool gets device memory: 512-byte steps up to 1 MiB, then 2 MiB steps.
class DeviceMemory {
 public:
  explicit DeviceMemory(int device) : device_(device) {}
  static size_t step(size_t bytes);
  void* obtain(const PoolRequest& req);
  [[noreturn]] void fail(const PoolRequest& req);
  void give_back(void* ptr);
  void give_back_at_exit(void* ptr) noexcept;

 private:
  int device_;
};

using CachingAllocator = CachingPool<DeviceMemory>;

}  // namespace cuda
}  // namespace sluice
