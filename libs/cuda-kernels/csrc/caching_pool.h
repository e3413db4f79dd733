// The caching pool both backends allocate through: freed blocks go to exact-size free lists and are reused,
// so a steady-state decode step, which re-requests the sizes it freed last step, never reaches the raw allocator.
#pragma once

#include <cstddef>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sluice {

// One request to a pool's Source, for the message of the error it raises.
struct PoolRequest {
  size_t bytes;   // what the caller asked for
  size_t size;    // the bucket it was rounded to
  size_t in_use;  // bytes the pool had handed out and not yet been given back
};

// Source is where raw memory comes from. It provides:
//   static size_t step(size_t bytes)           the rounding step for a request of `bytes` (> 0)
//   void* obtain(const PoolRequest&)           a new block, or nullptr when out of memory (throws on other errors)
//   [[noreturn]] void fail(const PoolRequest&) throws the backend's out-of-memory error
//   void give_back(void*)                      returns a block, throwing on failure
//   void give_back_at_exit(void*) noexcept     returns a block at teardown, ignoring failures
template <class Source>
class CachingPool {
 public:
  template <class... Args>
  explicit CachingPool(Args&&... args) : source_(std::forward<Args>(args)...) {}
  ~CachingPool() {
    for (auto& [size, ptrs] : free_)
      for (void* p : ptrs) source_.give_back_at_exit(p);
  }
  CachingPool(const CachingPool&) = delete;
  CachingPool& operator=(const CachingPool&) = delete;

  // The bucket a request falls in; an empty request still takes one step so it gets a distinct block.
  static size_t round_size(size_t bytes) {
    if (bytes == 0) bytes = 1;
    const size_t step = Source::step(bytes);
    return (bytes + step - 1) / step * step;
  }

  void* allocate(size_t bytes) {
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
    const PoolRequest req{bytes, size, allocated_};
    void* p = source_.obtain(req);
    if (p == nullptr) {
      drop_cached_locked();  // out of memory: hand the cached blocks back and try once more
      p = source_.obtain(req);
    }
    if (p == nullptr) source_.fail(req);
    allocated_ += size;
    return p;
  }

  void release(void* ptr, size_t bytes) {
    if (ptr == nullptr) return;
    const size_t size = round_size(bytes);
    std::lock_guard<std::mutex> lock(mu_);
    free_[size].push_back(ptr);
    allocated_ -= size;
    cached_ += size;
  }

  // Returns every cached (unused) block to the source.
  void empty_cache() {
    std::lock_guard<std::mutex> lock(mu_);
    drop_cached_locked();
  }

  size_t allocated_bytes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return allocated_;
  }

  size_t cached_bytes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return cached_;
  }

 private:
  void drop_cached_locked() {
    for (auto& [size, ptrs] : free_)
      for (void* p : ptrs) source_.give_back(p);
    free_.clear();
    cached_ = 0;
  }

  Source source_;
  mutable std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t allocated_ = 0;
  size_t cached_ = 0;
};

}  // namespace sluice
