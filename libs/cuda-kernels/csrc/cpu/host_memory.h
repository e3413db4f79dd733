// Where the CPU backend's caching pool gets memory: 64-byte-aligned host blocks in 256-byte steps.
#pragma once

#include <sys/mman.h>

#include <cstdlib>
#include <string>

#include "backend.h"
#include "caching_pool.h"

namespace sluice {

// Blocks of 2 MiB and more are 2 MiB-aligned and asked to be backed by huge pages: the weights and the KV cache
// are read every step, and 4 KiB pages cost a TLB miss per 4 KiB read and a fault per page first written.
inline void* host_alloc(size_t bytes) {
  constexpr size_t kHuge = size_t(2) << 20;
  if (bytes < kHuge) return std::aligned_alloc(64, bytes);
  const size_t size = (bytes + kHuge - 1) / kHuge * kHuge;
  void* p = std::aligned_alloc(kHuge, size);
  if (p) madvise(p, size, MADV_HUGEPAGE);  // advice only: where THP is off, 4 KiB pages still work
  return p;
}

struct HostMemory {
  static size_t step(size_t) { return 256; }
  void* obtain(const PoolRequest& req) { return host_alloc(req.size); }
  [[noreturn]] void fail(const PoolRequest& req) {
    throw BackendError("cpu: out of host memory allocating " + std::to_string(req.size) + " bytes");
  }
  void give_back(void* ptr) { std::free(ptr); }
  void give_back_at_exit(void* ptr) noexcept { std::free(ptr); }
};

using HostPool = CachingPool<HostMemory>;

}  // namespace sluice
