// Argument checks for every op: each failure is a KernelError with a stable code naming the op and the
// argument, so a bad call from the engine never reaches a kernel (and never aborts the process).
#pragma once

#include <napi.h>

#include <string>
#include <vector>

#include "backend.h"

namespace sluice {

class OpCheck {
 public:
  OpCheck(Napi::Env env, const char* op, const Backend& backend) : env_(env), op_(op), backend_(backend) {}

  [[noreturn]] void fail(const char* code, const std::string& arg, const std::string& what) const;

  // The live tensor behind a JS value, on the backend's device (pinned host tensors pass when allow_host).
  TensorRef tensor(const Napi::Value& value, const char* arg, bool allow_host = false) const;
  std::vector<TensorRef> tensor_list(const Napi::Value& value, const char* arg) const;
  double number(const Napi::Value& value, const char* arg) const;
  int64_t integer(const Napi::Value& value, const char* arg, int64_t min, int64_t max) const;

  void dtype(const TensorRef& t, const char* arg, DType expected) const;
  // f32 everywhere; the 16-bit float types where the backend computes in them (not on CPU).
  void floating(const TensorRef& t, const char* arg) const;
  void index_dtype(const TensorRef& t, const char* arg) const;  // i32 or i64
  // A paged KV cache: a floating dtype of this backend, or bf16 on the cpu backend (its bf16 KV cache).
  void kv_cache(const TensorRef& t, const char* arg) const;
  // What is written to or read against a cache: the cache's dtype, or f32 over a cpu bf16 cache.
  void cache_input(const TensorRef& t, const char* arg, const TensorRef& cache, const char* cache_arg) const;
  void same_dtype(const TensorRef& t, const char* arg, const TensorRef& like, const char* like_arg) const;
  void rank(const TensorRef& t, const char* arg, size_t rank) const;
  void dim(const TensorRef& t, const char* arg, size_t i, int64_t expected, const std::string& why) const;
  void same_shape(const TensorRef& t, const char* arg, const TensorRef& like, const char* like_arg) const;
  // The size of dimension 1 when t is viewed as [shape[0], rest]: the row width of a 2-D-or-more tensor.
  int64_t row_width(const TensorRef& t, const char* arg) const;

  // Index values can only be range-checked where they are host-readable (the CPU backend).
  bool host_readable(const TensorRef& t) const { return t.device == Device::CPU; }
  int64_t read_index(const TensorRef& t, int64_t i) const;
  // Every index value in [lo, hi) (values < skip_below are ignored, e.g. slot -1).
  void indices_in_range(const TensorRef& t, const char* arg, int64_t lo, int64_t hi, const std::string& what,
                        bool allow_negative_skip = false) const;
  // offsets [B+1]: starts at 0, non-decreasing, ends at total.
  void offsets(const TensorRef& t, const char* arg, int64_t total, const std::string& what) const;

  const char* op() const { return op_; }
  Napi::Env env() const { return env_; }

 private:
  Napi::Env env_;
  const char* op_;
  const Backend& backend_;
};

std::string shape_str(const std::vector<int64_t>& shape);

}  // namespace sluice
