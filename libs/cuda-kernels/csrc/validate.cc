#include "validate.h"

#include "addon.h"
#include "tensor.h"

namespace sluice {

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); i++) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

static const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

void OpCheck::fail(const char* code, const std::string& arg, const std::string& what) const {
  throw_kernel_error(env_, code, op_, arg, std::string(op_) + ": argument '" + arg + "' " + what);
}

TensorRef OpCheck::tensor(const Napi::Value& value, const char* arg, bool allow_host) const {
  Tensor* t = Tensor::From(env_, value, op_, arg);
  TensorRef r = t->ref();
  if (r.device != backend_.device() && !(allow_host && r.device == Device::CPU)) {
    fail("E_DEVICE", arg, std::string("is on device '") + device_name(r.device) + "' but the backend is '" +
                              device_name(backend_.device()) + "'");
  }
  return r;
}

std::vector<TensorRef> OpCheck::tensor_list(const Napi::Value& value, const char* arg) const {
  if (!value.IsArray()) fail("E_ARG_TYPE", arg, "must be an array of Tensors");
  Napi::Array a = value.As<Napi::Array>();
  std::vector<TensorRef> out;
  for (uint32_t i = 0; i < a.Length(); i++) {
    const std::string name = std::string(arg) + "[" + std::to_string(i) + "]";
    Tensor* t = Tensor::From(env_, a.Get(i), op_, name.c_str());
    out.push_back(t->ref());
    if (out.back().device != backend_.device()) fail("E_DEVICE", name, "is on the wrong device");
  }
  return out;
}

double OpCheck::number(const Napi::Value& value, const char* arg) const {
  if (!value.IsNumber()) fail("E_ARG_TYPE", arg, "must be a number");
  return value.As<Napi::Number>().DoubleValue();
}

int64_t OpCheck::integer(const Napi::Value& value, const char* arg, int64_t min, int64_t max) const {
  const double d = number(value, arg);
  if (d != static_cast<double>(static_cast<int64_t>(d))) fail("E_ARG_TYPE", arg, "must be an integer");
  const int64_t v = static_cast<int64_t>(d);
  if (v < min || v > max) {
    fail("E_RANGE", arg, "is " + std::to_string(v) + ", outside [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return v;
}

void OpCheck::dtype(const TensorRef& t, const char* arg, DType expected) const {
  if (t.dtype != expected) {
    fail("E_DTYPE", arg, std::string("must be ") + dtype_name(expected) + " (got " + dtype_name(t.dtype) + ")");
  }
}

void OpCheck::floating(const TensorRef& t, const char* arg) const {
  if (t.dtype == DType::F32) return;
  const bool half = t.dtype == DType::F16 || t.dtype == DType::BF16;
  if (half && backend_.device() != Device::CPU) return;
  fail("E_DTYPE", arg,
       std::string("must be ") + (backend_.device() == Device::CPU ? "f32 on the cpu backend" : "f32, f16 or bf16") +
           " (got " + dtype_name(t.dtype) + ")");
}

void OpCheck::kv_cache(const TensorRef& t, const char* arg) const {
  if (t.dtype == DType::BF16 && backend_.device() == Device::CPU) return;
  if (backend_.device() == Device::CPU && t.dtype != DType::F32) {
    fail("E_DTYPE", arg, std::string("must be f32 or bf16 on the cpu backend (got ") + dtype_name(t.dtype) + ")");
  }
  floating(t, arg);
}

void OpCheck::cache_input(const TensorRef& t, const char* arg, const TensorRef& cache, const char* cache_arg) const {
  if (t.dtype == DType::F32 && cache.dtype == DType::BF16 && backend_.device() == Device::CPU) return;
  same_dtype(t, arg, cache, cache_arg);
}

void OpCheck::index_dtype(const TensorRef& t, const char* arg) const {
  if (t.dtype != DType::I32 && t.dtype != DType::I64) {
    fail("E_DTYPE", arg, std::string("must be i32 or i64 (got ") + dtype_name(t.dtype) + ")");
  }
}

void OpCheck::same_dtype(const TensorRef& t, const char* arg, const TensorRef& like, const char* like_arg) const {
  if (t.dtype != like.dtype) {
    fail("E_DTYPE", arg, std::string("must have the dtype of '") + like_arg + "' (" + dtype_name(like.dtype) +
                             ", got " + dtype_name(t.dtype) + ")");
  }
}

void OpCheck::rank(const TensorRef& t, const char* arg, size_t r) const {
  if (t.shape.size() != r) {
    fail("E_SHAPE", arg, "must have " + std::to_string(r) + " dimensions (got shape " + shape_str(t.shape) + ")");
  }
}

void OpCheck::dim(const TensorRef& t, const char* arg, size_t i, int64_t expected, const std::string& why) const {
  if (t.shape.size() <= i || t.shape[i] != expected) {
    fail("E_SHAPE", arg, "dimension " + std::to_string(i) + " must be " + std::to_string(expected) + " (" + why +
                             "; got shape " + shape_str(t.shape) + ")");
  }
}

void OpCheck::same_shape(const TensorRef& t, const char* arg, const TensorRef& like, const char* like_arg) const {
  if (t.shape != like.shape) {
    fail("E_SHAPE", arg, "must have the shape of '" + std::string(like_arg) + "' " + shape_str(like.shape) +
                             " (got " + shape_str(t.shape) + ")");
  }
}

int64_t OpCheck::row_width(const TensorRef& t, const char* arg) const {
  if (t.shape.size() < 2) fail("E_SHAPE", arg, "must have at least 2 dimensions (got " + shape_str(t.shape) + ")");
  return t.shape[0] == 0 ? 0 : t.numel() / t.shape[0];
}

int64_t OpCheck::read_index(const TensorRef& t, int64_t i) const {
  return t.dtype == DType::I64 ? t.ptr<int64_t>()[i] : static_cast<int64_t>(t.ptr<int32_t>()[i]);
}

void OpCheck::indices_in_range(const TensorRef& t, const char* arg, int64_t lo, int64_t hi, const std::string& what,
                               bool allow_negative_skip) const {
  if (!host_readable(t)) return;
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; i++) {
    const int64_t v = read_index(t, i);
    if (allow_negative_skip && v < 0) continue;
    if (v < lo || v >= hi) {
      fail("E_RANGE", arg, "element " + std::to_string(i) + " is " + std::to_string(v) + ", outside [" +
                               std::to_string(lo) + ", " + std::to_string(hi) + ") (" + what + ")");
    }
  }
}

void OpCheck::offsets(const TensorRef& t, const char* arg, int64_t total, const std::string& what) const {
  if (!host_readable(t)) return;
  const int64_t n = t.numel();
  if (read_index(t, 0) != 0) fail("E_RANGE", arg, "must start at 0 (" + what + ")");
  for (int64_t i = 1; i < n; i++) {
    if (read_index(t, i) < read_index(t, i - 1)) {
      fail("E_RANGE", arg, "must be non-decreasing; element " + std::to_string(i) + " decreases (" + what + ")");
    }
  }
  if (read_index(t, n - 1) != total) {
    fail("E_RANGE", arg, "must end at " + std::to_string(total) + " (got " + std::to_string(read_index(t, n - 1)) +
                             "; " + what + ")");
  }
}

}  // namespace sluice
