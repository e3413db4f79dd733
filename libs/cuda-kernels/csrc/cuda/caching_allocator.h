// Size-bucketed caching allocator over cudaMalloc: freed blocks go to per-size free lists and are reused,
// so steady-state decode steps never reach cudaMalloc/cudaFree. Reuse is safe without events because every
// op runs on the backend's single compute stream, which orders the old and new users of a block.
#pragma once

#include <cstddef>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace sluice {
namespace cuda {

class CachingAllocator {
 public:
  explicit CachingAllocator(int device) : device_(device) {}
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  void* allocate(size_t bytes);
  void release(void* ptr, size_t bytes);
  // Returns every cached (unused) block to the driver; called on out-of-memory before retrying.
  void empty_cache();
  size_t allocated_bytes() const;
  size_t cached_bytes() const;

  // The bucket a request falls in: 512-byte steps up to 1 MiB, then 2 MiB steps.
  static size_t round_size(size_t bytes);

 private:
  void drop_cached_locked();

  int device_;
  mutable std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t allocated_ = 0;
  size_t cached_ = 0;
};

}  // namespace cuda
}  // namespace sluice
