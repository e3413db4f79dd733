#include "tensor.h"

#include "addon.h"

namespace sluice {

void Storage::release() {
  if (freed) return;
  freed = true;
  if (pooled && data) {
    if (pinned) backend->release_pinned(data, bytes);
    else backend->release(data, bytes);
  }
  keep_alive.reset();
  data = nullptr;
}

Napi::Function Tensor::Define(Napi::Env env) {
  return DefineClass(env, "Tensor",
                     {
                         InstanceAccessor<&Tensor::GetDType>("dtype"),
                         InstanceAccessor<&Tensor::GetShape>("shape"),
                         InstanceAccessor<&Tensor::GetDevice>("device"),
                         InstanceAccessor<&Tensor::GetNumel>("numel"),
                         InstanceAccessor<&Tensor::GetFreed>("freed"),
                         InstanceMethod<&Tensor::Free>("free"),
                     });
}

Tensor::Tensor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Tensor>(info) {}

Napi::Object Tensor::Wrap(Napi::Env env, std::shared_ptr<Storage> storage, size_t offset_bytes, DType dtype,
                          Device device, std::vector<int64_t> shape, bool is_base) {
  Napi::Object obj = env.GetInstanceData<AddonData>()->tensor_ctor.New({});
  Tensor* t = Tensor::Unwrap(obj);
  t->storage_ = std::move(storage);
  t->offset_bytes_ = offset_bytes;
  t->dtype_ = dtype;
  t->device_ = device;
  t->shape_ = std::move(shape);
  t->is_base_ = is_base;
  return obj;
}

Tensor* Tensor::From(Napi::Env env, Napi::Value value, const char* op, const char* arg) {
  AddonData* data = env.GetInstanceData<AddonData>();
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(data->tensor_ctor.Value())) {
    throw_kernel_error(env, "E_ARG_TYPE", op, arg, std::string(op) + ": argument '" + arg + "' must be a Tensor");
  }
  Tensor* t = Tensor::Unwrap(value.As<Napi::Object>());
  if (t->is_freed()) {
    throw_kernel_error(env, "E_FREED", op, arg, std::string(op) + ": argument '" + arg + "' is a freed tensor (use after free)");
  }
  return t;
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape_) n *= d;
  return n;
}

TensorRef Tensor::ref() const {
  TensorRef r;
  r.data = static_cast<char*>(storage_->data) + offset_bytes_;
  r.dtype = dtype_;
  r.device = device_;
  r.shape = shape_;
  return r;
}

Napi::Value Tensor::GetDType(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), dtype_name(dtype_)); }

Napi::Value Tensor::GetShape(const Napi::CallbackInfo& info) {
  Napi::Array a = Napi::Array::New(info.Env(), shape_.size());
  for (size_t i = 0; i < shape_.size(); i++) a.Set(i, Napi::Number::New(info.Env(), static_cast<double>(shape_[i])));
  return a;
}

Napi::Value Tensor::GetDevice(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), device_ == Device::CPU ? "cpu" : "cuda");
}

Napi::Value Tensor::GetNumel(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(numel())); }

Napi::Value Tensor::GetFreed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), is_freed()); }

Napi::Value Tensor::Free(const Napi::CallbackInfo& info) {
  if (!freed_ && is_base_ && storage_) storage_->release();
  freed_ = true;
  storage_.reset();
  return info.Env().Undefined();
}

}  // namespace sluice
