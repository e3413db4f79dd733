// A small persistent pool: ops split their outer loop into chunks and block until all are done. Chunks are claimed
// dynamically, so a core another process holds delays only the chunk it runs, not a fixed half of every op. With
// SLUICE_CPU_SPIN_US set, threads wait awake that long between ops instead of sleeping at once (see thread_pool.cc).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sluice {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }
  // Runs fn(begin, end) over [0, n) in contiguous chunks of at least `grain`, on the pool and the caller.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void worker_loop();
  // Claims and runs chunks of job `gen` until none is left (or a later job has replaced it).
  void run_chunks(uint32_t gen);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  // The job: written by the caller before it publishes `state_`, read by a thread only once it has claimed a chunk
  // (the caller cannot start the next job before that chunk is done).
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_ = 0;
  std::atomic<int> chunks_{0};
  // High 32 bits: the job's generation; low 32: chunks claimed. One word, so a claim is tied to its job.
  std::atomic<uint64_t> state_{0};
  std::atomic<int> chunks_left_{0};
  // Sleep/wake handshakes (sequentially consistent, so either side sees the other).
  std::atomic<int> sleepers_{0};
  std::atomic<bool> caller_sleeping_{false};
  std::atomic<bool> stopping_{false};
};

// Threads for a CPU backend: SLUICE_CPU_THREADS, else every hardware thread.
int default_cpu_threads();

}  // namespace sluice
