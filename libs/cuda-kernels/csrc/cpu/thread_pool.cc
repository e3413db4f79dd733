#include "thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace sluice {
namespace {

// How long a thread waits awake for the next op (or the last chunk) before it sleeps: SLUICE_CPU_SPIN_US, default 0.
// Ops of one step come tens of microseconds apart, so on cores a worker has to itself ~100 us saves a futex wake per
// op (batch-1 decode ~30% faster here); where several processes share the cores (CI, many workers on one machine)
// waiting threads take time the others need, as llama.cpp's spinning does, so it is opt-in. Past the first pauses
// the wait yields.
constexpr int kPauses = 64;

std::chrono::microseconds spin_window() {
  static const std::chrono::microseconds us = [] {
    const char* env = std::getenv("SLUICE_CPU_SPIN_US");
    const long v = env ? std::atol(env) : 0;
    return std::chrono::microseconds(std::clamp<long>(v, 0, 10000));
  }();
  return us;
}

inline void pause() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

// Waits until pred() or the spin window has passed; true if pred() held. With no window, one look.
template <class Pred>
bool spin_until(Pred pred) {
  const auto window = spin_window();
  if (window.count() == 0) return pred();
  for (int i = 0; i < kPauses; i++) {
    if (pred()) return true;
    pause();
  }
  const auto until = std::chrono::steady_clock::now() + window;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::yield();
  }
  return pred();
}

}  // namespace

int default_cpu_threads() {
  if (const char* env = std::getenv("SLUICE_CPU_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < threads; i++) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_.store(true);
    state_.fetch_add(uint64_t(1) << 32);
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::run_chunks(uint32_t gen) {
  for (;;) {
    uint64_t s = state_.load(std::memory_order_acquire);
    int c = -1;
    while (uint32_t(s >> 32) == gen && int(uint32_t(s)) < chunks_.load(std::memory_order_acquire)) {
      if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) {
        c = int(uint32_t(s));
        break;
      }
    }
    if (c < 0) return;
    const int chunks = chunks_.load(std::memory_order_relaxed);
    const int64_t begin = n_ * c / chunks, end = n_ * (c + 1) / chunks;
    if (begin < end) (*fn_)(begin, end);
    if (chunks_left_.fetch_sub(1) == 1 && caller_sleeping_.load()) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_one();
    }
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  const int64_t most = std::max<int64_t>(1, n / std::max<int64_t>(1, grain));
  // A few chunks per thread: a busy core delays one small chunk, not a fixed share.
  const int chunks = static_cast<int>(std::min<int64_t>(int64_t(size()) * 4, most));
  if (chunks <= 1 || workers_.empty()) {
    fn(0, n);
    return;
  }
  fn_ = &fn;
  n_ = n;
  chunks_.store(chunks, std::memory_order_relaxed);
  chunks_left_.store(chunks, std::memory_order_relaxed);
  const uint32_t gen = uint32_t(state_.load(std::memory_order_relaxed) >> 32) + 1;
  state_.store(uint64_t(gen) << 32);  // publishes the job (sequentially consistent: see sleepers_ below)
  if (sleepers_.load() > 0) {
    { std::lock_guard<std::mutex> lock(mutex_); }
    wake_.notify_all();
  }
  run_chunks(gen);
  if (!spin_until([this] { return chunks_left_.load(std::memory_order_acquire) == 0; })) {
    std::unique_lock<std::mutex> lock(mutex_);
    caller_sleeping_.store(true);
    done_.wait(lock, [this] { return chunks_left_.load() == 0; });
    caller_sleeping_.store(false);
  }
}

void ThreadPool::worker_loop() {
  // Generation 0 is the pool's start: a worker that first runs after a job (or the destructor) was published
  // still sees it as new.
  uint32_t seen = 0;
  const auto fresh = [&] { return stopping_.load() || uint32_t(state_.load() >> 32) != seen; };
  for (;;) {
    if (!spin_until(fresh)) {
      std::unique_lock<std::mutex> lock(mutex_);
      sleepers_.fetch_add(1);
      wake_.wait(lock, fresh);
      sleepers_.fetch_sub(1);
    }
    if (stopping_.load()) return;
    seen = uint32_t(state_.load(std::memory_order_acquire) >> 32);
    run_chunks(seen);
  }
}

}  // namespace sluice
