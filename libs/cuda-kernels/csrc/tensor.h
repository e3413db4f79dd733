// The JS-visible Tensor: a view (offset, shape, dtype) over reference-counted backend storage.
#pragma once

#include <napi.h>

#include <memory>
#include <vector>

#include "backend.h"

namespace sluice {

// Memory owned by a backend's pool, or borrowed from a longer-lived owner such as a file mapping.
struct Storage {
  std::shared_ptr<Backend> backend;
  void* data = nullptr;
  size_t bytes = 0;
  bool pooled = false;               // returned to backend->release() when freed
  bool pinned = false;               // from allocate_pinned, so returned through release_pinned
  std::shared_ptr<void> keep_alive;  // e.g. the mmap a zero-copy weight points into
  bool freed = false;

  ~Storage() { release(); }
  void release();
};

class Tensor : public Napi::ObjectWrap<Tensor> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Tensor(const Napi::CallbackInfo& info);

  // Creates a JS Tensor over storage (is_base: it owns the storage, so free() releases it).
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<Storage> storage, size_t offset_bytes, DType dtype,
                           Device device, std::vector<int64_t> shape, bool is_base);
  // The tensor behind a JS value, or a KernelError naming op and arg.
  static Tensor* From(Napi::Env env, Napi::Value value, const char* op, const char* arg);

  TensorRef ref() const;
  bool is_freed() const { return freed_ || !storage_ || storage_->freed; }
  int64_t numel() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }

  std::shared_ptr<Storage> storage_;
  size_t offset_bytes_ = 0;
  DType dtype_ = DType::F32;
  Device device_ = Device::CPU;
  std::vector<int64_t> shape_;
  bool freed_ = false;
  bool is_base_ = false;  // freeing the base frees the storage; freeing a view only retires the view

 private:
  Napi::Value GetDType(const Napi::CallbackInfo& info);
  Napi::Value GetShape(const Napi::CallbackInfo& info);
  Napi::Value GetDevice(const Napi::CallbackInfo& info);
  Napi::Value GetNumel(const Napi::CallbackInfo& info);
  Napi::Value GetFreed(const Napi::CallbackInfo& info);
  Napi::Value Free(const Napi::CallbackInfo& info);
};

}  // namespace sluice
