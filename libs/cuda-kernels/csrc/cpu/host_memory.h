// Where the CPU backend's caching pool gets memory: 64-byte-aligned host blocks in 256-byte steps.
#pragma once

#include <cstdlib>
#include <string>

#include "backend.h"
#include "caching_pool.h"

namespace sluice {

struct HostMemory {
  static size_t step(size_t) { return 256; }
  void* obtain(const PoolRequest& req) { return std::aligned_alloc(64, req.size); }
  [[noreturn]] void fail(const PoolRequest& req) {
    throw BackendError("cpu: out of host memory allocating " + std::to_string(req.size) + " bytes");
  }
  void give_back(void* ptr) { std::free(ptr); }
  void give_back_at_exit(void* ptr) noexcept { std::free(ptr); }
};

using HostPool = CachingPool<HostMemory>;

}  // namespace sluice
