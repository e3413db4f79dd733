#include "native_backend.h"

#include <cstring>
#include <new>
#include <string>

#include "addon.h"
#include "cpu/cpu_backend.h"
#include "cpu/thread_pool.h"
#include "safetensors.h"
#include "tensor.h"
#include "validate.h"
#ifdef SLUICE_WITH_CUDA
#include "cuda/cuda_backend.h"
#endif

namespace sluice {
namespace {

// Runs a backend call, turning its C++ exceptions into KernelErrors that name the op.
template <typename F>
auto guarded(Napi::Env env, const char* op, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;
  } catch (const IndexRangeError& e) {
    throw_kernel_error(env, "E_RANGE", op, e.arg, std::string(op) + ": argument '" + e.arg + "' " + e.what());
  } catch (const UnsupportedError& e) {
    throw_kernel_error(env, "E_UNSUPPORTED", op, "", std::string(op) + ": " + e.what());
  } catch (const std::bad_alloc&) {
    throw_kernel_error(env, "E_ALLOC", op, "", std::string(op) + ": out of memory");
  } catch (const std::exception& e) {
    throw_kernel_error(env, "E_BACKEND", op, "", std::string(op) + ": " + e.what());
  }
}

DType parse_dtype(const OpCheck& c, const Napi::Value& v, const char* arg) {
  if (v.IsString()) {
    const std::string s = v.As<Napi::String>().Utf8Value();
    for (DType d : {DType::F32, DType::F16, DType::BF16, DType::I32, DType::I64, DType::U8})
      if (s == dtype_name(d)) return d;
  }
  c.fail("E_DTYPE", arg, "must be one of f32, f16, bf16, i32, i64, u8");
}

std::vector<int64_t> parse_shape(const OpCheck& c, const Napi::Value& v, const char* arg) {
  if (!v.IsArray()) c.fail("E_SHAPE", arg, "must be an array of non-negative integers");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int64_t> shape;
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value d = a.Get(i);
    const double x = d.IsNumber() ? d.As<Napi::Number>().DoubleValue() : -1;
    if (!(x >= 0 && x <= 1e15) || x != static_cast<double>(static_cast<int64_t>(x))) {
      c.fail("E_SHAPE", arg, "must be an array of non-negative integers (element " + std::to_string(i) + ")");
    }
    shape.push_back(static_cast<int64_t>(x));
  }
  return shape;
}

int64_t product(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// The host typed array kind that carries each dtype.
napi_typedarray_type host_array_type(DType d) {
  switch (d) {
    case DType::F32: return napi_float32_array;
    case DType::F16:
    case DType::BF16: return napi_uint16_array;
    case DType::I32: return napi_int32_array;
    case DType::I64: return napi_bigint64_array;
    case DType::U8: return napi_uint8_array;
  }
  return napi_uint8_array;
}

const char* host_array_name(DType d) {
  switch (d) {
    case DType::F32: return "Float32Array";
    case DType::F16:
    case DType::BF16: return "Uint16Array";
    case DType::I32: return "Int32Array";
    case DType::I64: return "BigInt64Array";
    case DType::U8: return "Uint8Array";
  }
  return "?";
}

Napi::TypedArray host_array(const OpCheck& c, const Napi::Value& v, const char* arg, DType d) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != host_array_type(d)) {
    c.fail("E_ARG_TYPE", arg, std::string("must be a ") + host_array_name(d) + " for dtype " + dtype_name(d));
  }
  return v.As<Napi::TypedArray>();
}

const void* host_bytes(const Napi::TypedArray& a) {
  return static_cast<const char*>(a.ArrayBuffer().Data()) + a.ByteOffset();
}

}  // namespace

Napi::Function NativeBackend::Define(Napi::Env env) {
  return DefineClass(
      env, "NativeBackend",
      {
          InstanceAccessor<&NativeBackend::GetDevice>("device"),
          InstanceAccessor<&NativeBackend::GetSupportsGraphs>("supportsGraphs"),
          InstanceAccessor<&NativeBackend::GetIndexChecks>("indexChecks"),
          InstanceMethod<&NativeBackend::EmptyCache>("emptyCache"),
          InstanceMethod<&NativeBackend::Empty>("empty"),
          InstanceMethod<&NativeBackend::EmptyPinned>("emptyPinned"),
          InstanceMethod<&NativeBackend::FromHost>("fromHost"),
          InstanceMethod<&NativeBackend::CopyFromHost>("copyFromHost"),
          InstanceMethod<&NativeBackend::ToHost>("toHost"),
          InstanceMethod<&NativeBackend::View>("view"),
          InstanceMethod<&NativeBackend::Narrow>("narrow"),
          InstanceMethod<&NativeBackend::LoadSafetensors>("loadSafetensorsEntries"),
          InstanceMethod<&NativeBackend::Synchronize>("synchronize"),
          InstanceMethod<&NativeBackend::MemoryStats>("memoryStats"),
          InstanceMethod<&NativeBackend::CreateEvent>("createEvent"),
          InstanceMethod<&NativeBackend::RecordEvent>("recordEvent"),
          InstanceMethod<&NativeBackend::WaitEvent>("waitEvent"),
          InstanceMethod<&NativeBackend::ElapsedMs>("elapsedMs"),
          InstanceMethod<&NativeBackend::DestroyEvent>("destroyEvent"),
          InstanceMethod<&NativeBackend::BeginCapture>("beginCapture"),
          InstanceMethod<&NativeBackend::EndCapture>("endCapture"),
          InstanceMethod<&NativeBackend::Replay>("replay"),
          InstanceMethod<&NativeBackend::DestroyGraph>("destroyGraph"),
          InstanceMethod<&NativeBackend::Embedding>("embedding"),
          InstanceMethod<&NativeBackend::Scatter>("scatter"),
          InstanceMethod<&NativeBackend::Copy>("copy"),
          InstanceMethod<&NativeBackend::RmsNorm>("rmsNorm"),
          InstanceMethod<&NativeBackend::FusedAddRmsNorm>("fusedAddRmsNorm"),
          InstanceMethod<&NativeBackend::RotaryEmbedding>("rotaryEmbedding"),
          InstanceMethod<&NativeBackend::Gemm>("gemm"),
          InstanceMethod<&NativeBackend::SiluAndMul>("siluAndMul"),
          InstanceMethod<&NativeBackend::ReshapeAndCache>("reshapeAndCache"),
          InstanceMethod<&NativeBackend::SplitQkvRotaryCache>("splitQkvRotaryCache"),
          InstanceMethod<&NativeBackend::PagedAttentionDecode>("pagedAttentionDecode"),
          InstanceMethod<&NativeBackend::PrefillAttention>("prefillAttention"),
          InstanceMethod<&NativeBackend::CopyBlocks>("copyBlocks"),
          InstanceMethod<&NativeBackend::SwapBlocks>("swapBlocks"),
          InstanceMethod<&NativeBackend::Sample>("sample"),
          InstanceMethod<&NativeBackend::LogSoftmaxTopK>("logSoftmaxTopK"),
          InstanceMethod<&NativeBackend::GatherLogProbs>("gatherLogProbs"),
          InstanceMethod<&NativeBackend::Argmax>("argmax"),
          InstanceMethod<&NativeBackend::ApplyTokenBitmask>("applyTokenBitmask"),
      });
}

NativeBackend::NativeBackend(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeBackend>(info) {
  Napi::Env env = info.Env();
  const std::string device = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  if (device == "cpu") {
    backend_ = guarded(env, "getBackend", [] { return std::make_shared<CpuBackend>(default_cpu_threads()); });
    return;
  }
#ifdef SLUICE_WITH_CUDA
  if (device == "cuda") {
    const int ordinal = info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 0;
    backend_ = guarded(env, "getBackend", [&] { return make_cuda_backend(ordinal); });
    return;
  }
#endif
  throw_kernel_error(env, "E_UNSUPPORTED", "getBackend", "device",
                     "getBackend: argument 'device' must be 'cpu'" +
                         std::string(device == "cuda" ? " (this build has no CUDA backend or no GPU is visible)"
                                                      : " or 'cuda'"));
}

Napi::Object NativeBackend::new_tensor(Napi::Env env, const std::vector<int64_t>& shape, DType dtype, bool pinned) {
  auto storage = std::make_shared<Storage>();
  storage->backend = backend_;
  storage->bytes = static_cast<size_t>(product(shape)) * dtype_size(dtype);
  storage->pooled = true;
  storage->pinned = pinned;
  storage->data = pinned ? backend_->allocate_pinned(storage->bytes) : backend_->allocate(storage->bytes);
  return Tensor::Wrap(env, storage, 0, dtype, pinned ? Device::CPU : backend_->device(), shape, true);
}

Napi::Value NativeBackend::GetDevice(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), backend_->device() == Device::CPU ? "cpu" : "cuda");
}

Napi::Value NativeBackend::GetSupportsGraphs(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), backend_->supports_graphs());
}

// Host-readable indices are checked by OpCheck; device ones only where the backend's device-side checks are on.
Napi::Value NativeBackend::GetIndexChecks(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), backend_->device() == Device::CPU || backend_->device_index_checks());
}

// ---- memory ----

Napi::Value NativeBackend::EmptyCache(const Napi::CallbackInfo& info) {
  guarded(info.Env(), "emptyCache", [&] { backend_->empty_cache(); });
  return info.Env().Undefined();
}

Napi::Value NativeBackend::Empty(const Napi::CallbackInfo& info) {
  OpCheck c(info.Env(), "empty", *backend_);
  const auto shape = parse_shape(c, info[0], "shape");
  const DType dtype = parse_dtype(c, info[1], "dtype");
  return guarded(info.Env(), "empty", [&] { return new_tensor(info.Env(), shape, dtype, false); });
}

Napi::Value NativeBackend::EmptyPinned(const Napi::CallbackInfo& info) {
  OpCheck c(info.Env(), "emptyPinned", *backend_);
  const auto shape = parse_shape(c, info[0], "shape");
  const DType dtype = parse_dtype(c, info[1], "dtype");
  return guarded(info.Env(), "emptyPinned", [&] { return new_tensor(info.Env(), shape, dtype, true); });
}

Napi::Value NativeBackend::FromHost(const Napi::CallbackInfo& info) {
  OpCheck c(info.Env(), "fromHost", *backend_);
  const auto shape = parse_shape(c, info[1], "shape");
  const DType dtype = parse_dtype(c, info[2], "dtype");
  Napi::TypedArray data = host_array(c, info[0], "data", dtype);
  if (static_cast<int64_t>(data.ElementLength()) != product(shape)) {
    c.fail("E_SHAPE", "data", "has " + std::to_string(data.ElementLength()) + " elements but shape " +
                                  shape_str(shape) + " needs " + std::to_string(product(shape)));
  }
  return guarded(info.Env(), "fromHost", [&] {
    Napi::Object t = new_tensor(info.Env(), shape, dtype, false);
    const TensorRef r = Tensor::Unwrap(t)->ref();
    backend_->copy_from_host(r.data, host_bytes(data), data.ByteLength());
    return t;
  });
}

Napi::Value NativeBackend::CopyFromHost(const Napi::CallbackInfo& info) {
  OpCheck c(info.Env(), "copyFromHost", *backend_);
  const TensorRef dst = c.tensor(info[0], "dst", true);
  Napi::TypedArray src = host_array(c, info[1], "src", dst.dtype);
  if (static_cast<int64_t>(src.ElementLength()) != dst.numel()) {
    c.fail("E_SHAPE", "src", "has " + std::to_string(src.ElementLength()) + " elements but 'dst' has " +
                                 std::to_string(dst.numel()));
  }
  guarded(info.Env(), "copyFromHost", [&] {
    if (dst.device == Device::CPU) std::memcpy(dst.data, host_bytes(src), src.ByteLength());
    else backend_->copy_from_host(dst.data, host_bytes(src), src.ByteLength());
  });
  return info.Env().Undefined();
}

template <typename T>
static Napi::Value typed_copy(Napi::Env env, size_t n, const std::function<void(void*, size_t)>& fill) {
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, n * sizeof(T));
  fill(buf.Data(), n * sizeof(T));
  return Napi::TypedArrayOf<T>::New(env, n, buf, 0);
}

Napi::Value NativeBackend::ToHost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  OpCheck c(env, "toHost", *backend_);
  const TensorRef src = c.tensor(info[0], "src", true);
  const bool after_event = info.Length() > 1 && !info[1].IsUndefined();
  const int event = after_event ? static_cast<int>(c.integer(info[1], "afterEvent", 0, INT32_MAX)) : 0;
  // Pinned memory is written by queued copies: wait for the given event, or for everything queued so far.
  guarded(env, "toHost", [&] {
    if (after_event) backend_->wait_event(event);
    else if (src.device == Device::CPU) backend_->synchronize();
  });
  const size_t n = static_cast<size_t>(src.numel());
  auto fill = [&](void* dst, size_t bytes) {
    guarded(env, "toHost", [&] {
      if (src.device == Device::CPU) std::memcpy(dst, src.data, bytes);
      else backend_->copy_to_host(dst, src.data, bytes);
    });
  };
  switch (src.dtype) {
    case DType::F32: return typed_copy<float>(env, n, fill);
    case DType::F16:
    case DType::BF16: return typed_copy<uint16_t>(env, n, fill);
    case DType::I32: return typed_copy<int32_t>(env, n, fill);
    case DType::I64: return typed_copy<int64_t>(env, n, fill);
    case DType::U8: return typed_copy<uint8_t>(env, n, fill);
  }
  return env.Undefined();
}

Napi::Value NativeBackend::View(const Napi::CallbackInfo& info) {
  OpCheck c(info.Env(), "view", *backend_);
  Tensor* t = Tensor::From(info.Env(), info[0], "view", "t");
  const auto shape = parse_shape(c, info[1], "shape");
  // A dtype reinterprets the same bytes (f32 <-> i32, f16 <-> bf16), so one buffer can mix ids and scores; one of
  // another element size must cover exactly t's bytes from an aligned offset (i64 seeds inside an i32 staging buffer).
  DType dtype = t->dtype_;
  if (info.Length() > 2 && !info[2].IsUndefined()) {
    dtype = parse_dtype(c, info[2], "dtype");
    const size_t size = dtype_size(dtype);
    const bool same_bytes = static_cast<size_t>(product(shape)) * size == t->nbytes() && t->offset_bytes_ % size == 0;
    if (size != dtype_size(t->dtype_) && !same_bytes) {
      c.fail("E_DTYPE", "dtype", std::string("must have the element size of 't' (") + dtype_name(t->dtype_) + ", " +
                                     std::to_string(dtype_size(t->dtype_)) + " bytes; got " + dtype_name(dtype) +
                                     ", " + std::to_string(size) + " bytes) or cover its " + std::to_string(t->nbytes()) +
                                     " bytes exactly from an aligned offset");
    }
  }
  if (static_cast<size_t>(product(shape)) * dtype_size(dtype) != t->nbytes()) {
    c.fail("E_SHAPE", "shape", shape_str(shape) + " has " + std::to_string(product(shape)) + " elements but 't' " +
                                   shape_str(t->shape_) + " has " + std::to_string(t->numel()));
  }
  return Tensor::Wrap(info.Env(), t->storage_, t->offset_bytes_, dtype, t->device_, shape, false);
}

Napi::Value NativeBackend::Narrow(const Napi::CallbackInfo& info) {
  OpCheck c(info.Env(), "narrow", *backend_);
  Tensor* t = Tensor::From(info.Env(), info[0], "narrow", "t");
  if (t->shape_.empty()) c.fail("E_SHAPE", "t", "must have at least one dimension");
  const int64_t rows = t->shape_[0];
  const int64_t start = c.integer(info[1], "start", 0, rows);
  const int64_t end = c.integer(info[2], "end", start, rows);
  std::vector<int64_t> shape = t->shape_;
  shape[0] = end - start;
  const size_t row_bytes = rows ? t->nbytes() / rows : 0;
  return Tensor::Wrap(info.Env(), t->storage_, t->offset_bytes_ + start * row_bytes, t->dtype_, t->device_, shape,
                      false);
}

Napi::Value NativeBackend::LoadSafetensors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  OpCheck c(env, "loadSafetensors", *backend_);
  if (!info[0].IsString()) c.fail("E_ARG_TYPE", "path", "must be a string");
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  const int64_t data_start = c.integer(info[1], "dataStart", 8, int64_t(1) << 50);
  if (!info[2].IsArray()) c.fail("E_ARG_TYPE", "entries", "must be an array");
  Napi::Array list = info[2].As<Napi::Array>();
  std::vector<SafetensorsEntry> entries;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Object e = list.Get(i).As<Napi::Object>();
    SafetensorsEntry entry;
    entry.name = e.Get("name").As<Napi::String>().Utf8Value();
    entry.dtype = parse_dtype(c, e.Get("dtype"), "entries.dtype");
    entry.shape = parse_shape(c, e.Get("shape"), "entries.shape");
    entry.begin = c.integer(e.Get("begin"), "entries.begin", 0, int64_t(1) << 50);
    entry.end = c.integer(e.Get("end"), "entries.end", entry.begin, int64_t(1) << 50);
    entries.push_back(std::move(entry));
  }
  std::vector<LoadedTensor> loaded;
  try {
    const bool as_stored = info.Length() > 3 && info[3].ToBoolean().Value();
    loaded = load_safetensors(backend_, path, data_start, entries, as_stored);
  } catch (const std::exception& e) {
    throw_kernel_error(env, "E_IO", "loadSafetensors", "path", "loadSafetensors: argument 'path' (" + path + "): " + e.what());
  }
  Napi::Array out = Napi::Array::New(env, loaded.size());
  for (size_t i = 0; i < loaded.size(); i++) {
    LoadedTensor& l = loaded[i];
    out.Set(i, Tensor::Wrap(env, l.storage, 0, l.dtype, backend_->device(), l.shape, true));
  }
  return out;
}

Napi::Value NativeBackend::Synchronize(const Napi::CallbackInfo& info) {
  guarded(info.Env(), "synchronize", [&] { backend_->synchronize(); });
  return info.Env().Undefined();
}

Napi::Value NativeBackend::MemoryStats(const Napi::CallbackInfo& info) {
  const sluice::MemoryStats s = guarded(info.Env(), "memoryStats", [&] { return backend_->memory_stats(); });
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("allocatedBytes", static_cast<double>(s.allocated_bytes));
  o.Set("cachedBytes", static_cast<double>(s.cached_bytes));
  o.Set("totalDeviceBytes", static_cast<double>(s.total_device_bytes));
  o.Set("freeDeviceBytes", static_cast<double>(s.free_device_bytes));
  return o;
}

// ---- events and graphs ----

Napi::Value NativeBackend::CreateEvent(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), guarded(info.Env(), "createEvent", [&] { return backend_->create_event(); }));
}

#define SLUICE_ID_METHOD(Method, op, call)                                          \
  Napi::Value NativeBackend::Method(const Napi::CallbackInfo& info) {               \
    OpCheck c(info.Env(), op, *backend_);                                           \
    const int id = static_cast<int>(c.integer(info[0], "id", 0, INT32_MAX));        \
    guarded(info.Env(), op, [&] { backend_->call(id); });                           \
    return info.Env().Undefined();                                                  \
  }
SLUICE_ID_METHOD(RecordEvent, "recordEvent", record_event)
SLUICE_ID_METHOD(WaitEvent, "waitEvent", wait_event)
SLUICE_ID_METHOD(DestroyEvent, "destroyEvent", destroy_event)
SLUICE_ID_METHOD(Replay, "replay", replay)
SLUICE_ID_METHOD(DestroyGraph, "destroyGraph", destroy_graph)
#undef SLUICE_ID_METHOD

Napi::Value NativeBackend::ElapsedMs(const Napi::CallbackInfo& info) {
  OpCheck c(info.Env(), "elapsedMs", *backend_);
  const int start = static_cast<int>(c.integer(info[0], "start", 0, INT32_MAX));
  const int end = static_cast<int>(c.integer(info[1], "end", 0, INT32_MAX));
  return Napi::Number::New(info.Env(), guarded(info.Env(), "elapsedMs", [&] { return backend_->elapsed_ms(start, end); }));
}

Napi::Value NativeBackend::BeginCapture(const Napi::CallbackInfo& info) {
  if (!backend_->supports_graphs()) {
    throw_kernel_error(info.Env(), "E_UNSUPPORTED", "beginCapture", "",
                       "beginCapture: graph capture is not supported on this backend (supportsGraphs is false)");
  }
  guarded(info.Env(), "beginCapture", [&] { backend_->begin_capture(); });
  return info.Env().Undefined();
}

Napi::Value NativeBackend::EndCapture(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), guarded(info.Env(), "endCapture", [&] { return backend_->end_capture(); }));
}

// ---- ops ----

Napi::Value NativeBackend::Embedding(const Napi::CallbackInfo& info) {
  OpCheck c(info.Env(), "embedding", *backend_);
  const TensorRef out = c.tensor(info[0], "out"), table = c.tensor(info[1], "table"), ids = c.tensor(info[2], "ids");
  if (table.dtype != DType::I32) c.floating(table, "table");  // i32: a gather of integer rows (block tables)
  c.rank(table, "table", 2);
  c.index_dtype(ids, "ids");
  c.rank(ids, "ids", 1);
  c.same_dtype(out, "out", table, "table");
  c.rank(out, "out", 2);
  c.dim(out, "out", 0, ids.dim(0), "one row per id");
  // A narrower out takes each row's first entries (a step's block tables at the width its contexts need).
  if (out.dim(1) < 1 || out.dim(1) > table.dim(1)) {
    c.fail("E_SHAPE", "out", "must have between 1 and " + std::to_string(table.dim(1)) + " columns (the table's row width), got " +
                                 std::to_string(out.dim(1)));
  }
  c.indices_in_range(ids, "ids", 0, table.dim(0), "rows of 'table'");
  guarded(info.Env(), "embedding", [&] { backend_->embedding(out, table, ids); });
  return info.Env().Undefined();
}

Napi::Value NativeBackend::Scatter(const Napi::CallbackInfo& info) {
  OpCheck c(info.Env(), "scatter", *backend_);
  const TensorRef dst = c.tensor(info[0], "dst"), indices = c.tensor(info[1], "indices"),
                  src = c.tensor(info[2], "src");
  c.dtype(dst, "dst", DType::I32);
  c.dtype(indices, "indices", DType::I32);
  c.rank(indices, "indices", 1);
  c.dtype(src, "src", DType::I32);
  c.rank(src, "src", 1);
  c.dim(src, "src", 0, indices.dim(0), "one value per index");
  c.indices_in_range(indices, "indices", 0, dst.numel(), "elements of 'dst', addressed flat", true);
  guarded(info.Env(), "scatter", [&] { backend_->scatter(dst, indices, src); });
  return info.Env().Undefined();
}

Napi::Value NativeBackend::Copy(const Napi::CallbackInfo& info) {
  OpCheck c(info.Env(), "copy", *backend_);
  const TensorRef dst = c.tensor(info[0], "dst", true), src = c.tensor(info[1], "src", true);
  c.same_dtype(dst, "dst", src, "src");
  if (dst.numel() != src.numel()) {
    c.fail("E_SHAPE", "dst", "must hold as many elements as 'src' (" + std::to_string(src.numel()) + "), got " + std::to_string(dst.numel()));
  }
  guarded(info.Env(), "copy", [&] { backend_->copy(dst, src); });
  return info.Env().Undefined();
}

static void check_norm(const OpCheck& c, const TensorRef& x, const char* x_arg, const TensorRef& weight) {
  c.floating(x, x_arg);
  if (x.shape.empty()) c.fail("E_SHAPE", x_arg, "must have at least one dimension");
  c.same_dtype(weight, "weight", x, x_arg);
  c.rank(weight, "weight", 1);
  c.dim(weight, "weight", 0, x.shape.back(), std::string("the last dimension of '") + x_arg + "'");
}

Napi::Value NativeBackend::RmsNorm(const Napi::CallbackInfo& info) {
  OpCheck c(info.Env(), "rmsNorm", *backend_);
  const TensorRef out = c.tensor(info[0], "out"), x = c.tensor(info[1], "x"), weight = c.tensor(info[2], "weight");
  const float eps = static_cast<float>(c.number(info[3], "eps"));
  check_norm(c, x, "x", weight);
  c.same_dtype(out, "out", x, "x");
  c.same_shape(out, "out", x, "x");
  guarded(info.Env(), "rmsNorm", [&] { backend_->rms_norm(out, x, weight, eps); });
  return info.Env().Undefined();
}

Napi::Value NativeBackend::FusedAddRmsNorm(const Napi::CallbackInfo& info) {
  OpCheck c(info.Env(), "fusedAddRmsNorm", *backend_);
  const TensorRef x = c.tensor(info[0], "x"), residual = c.tensor(info[1], "residual"),
                  weight = c.tensor(info[2], "weight");
  const float eps = static_cast<float>(c.number(info[3], "eps"));
  check_norm(c, x, "x", weight);
  c.same_dtype(residual, "residual", x, "x");
  c.same_shape(residual, "residual", x, "x");
  guarded(info.Env(), "fusedAddRmsNorm", [&] { backend_->fused_add_rms_norm(x, residual, weight, eps); });
  return info.Env().Undefined();
}

Napi::Value NativeBackend::RotaryEmbedding(const Napi::CallbackInfo& info) {
  OpCheck c(info.Env(), "rotaryEmbedding", *backend_);
  const TensorRef positions = c.tensor(info[0], "positions"), q = c.tensor(info[1], "q"), k = c.tensor(info[2], "k");
  const int64_t head_dim = c.integer(info[3], "headDim", 2, 4096);
  const TensorRef cos_sin = c.tensor(info[4], "cosSin");
  if (head_dim % 2) c.fail("E_RANGE", "headDim", "must be even (got " + std::to_string(head_dim) + ")");
  c.index_dtype(positions, "positions");
  c.rank(positions, "positions", 1);
  const int64_t T = positions.dim(0);
  for (auto [t, name] : {std::pair<const TensorRef*, const char*>{&q, "q"}, {&k, "k"}}) {
    c.floating(*t, name);
    c.dim(*t, name, 0, T, "one row per position");
    if (c.row_width(*t, name) % head_dim) c.fail("E_SHAPE", name, "row width must be a multiple of headDim");
  }
  c.same_dtype(k, "k", q, "q");
  c.floating(cos_sin, "cosSin");
  c.rank(cos_sin, "cosSin", 2);
  c.dim(cos_sin, "cosSin", 1, head_dim, "cos in the first half, sin in the second");
  c.indices_in_range(positions, "positions", 0, cos_sin.dim(0), "rows of 'cosSin'");
  guarded(info.Env(), "rotaryEmbedding",
          [&] { backend_->rotary_embedding(positions, q, k, static_cast<int>(head_dim), cos_sin); });
  return info.Env().Undefined();
}

Napi::Value NativeBackend::Gemm(const Napi::CallbackInfo& info) {
  OpCheck c(info.Env(), "gemm", *backend_);
  const TensorRef out = c.tensor(info[0], "out"), a = c.tensor(info[1], "a"), w = c.tensor(info[2], "w");
  const bool has_bias = info.Length() > 3 && !info[3].IsUndefined() && !info[3].IsNull();
  TensorRef bias;
  if (has_bias) bias = c.tensor(info[3], "bias");
  c.floating(a, "a");
  c.rank(a, "a", 2);
  // The cpu backend also takes bf16 weights with f32 activations (widened in the kernel, f32 accumulation).
  const bool bf16_weights = backend_->device() == Device::CPU && a.dtype == DType::F32 && w.dtype == DType::BF16;
  if (!bf16_weights) c.same_dtype(w, "w", a, "a");
  c.rank(w, "w", 2);
  c.dim(w, "w", 1, a.dim(1), "K, the columns of 'a'");
  c.same_dtype(out, "out", a, "a");
  c.rank(out, "out", 2);
  c.dim(out, "out", 0, a.dim(0), "M, the rows of 'a'");
  c.dim(out, "out", 1, w.dim(0), "N, the rows of 'w'");
  if (has_bias) {
    c.same_dtype(bias, "bias", a, "a");
    c.rank(bias, "bias", 1);
    c.dim(bias, "bias", 0, w.dim(0), "N, the rows of 'w'");
  }
  guarded(info.Env(), "gemm", [&] { backend_->gemm(out, a, w, has_bias ? &bias : nullptr); });
  return info.Env().Undefined();
}

Napi::Value NativeBackend::SiluAndMul(const Napi::CallbackInfo& info) {
  OpCheck c(info.Env(), "siluAndMul", *backend_);
  const TensorRef out = c.tensor(info[0], "out"), x = c.tensor(info[1], "x");
  c.floating(x, "x");
  c.rank(x, "x", 2);
  if (x.dim(1) % 2) c.fail("E_SHAPE", "x", "must have an even row width [T, 2F] (got " + shape_str(x.shape) + ")");
  c.same_dtype(out, "out", x, "x");
  c.rank(out, "out", 2);
  c.dim(out, "out", 0, x.dim(0), "T, the rows of 'x'");
  c.dim(out, "out", 1, x.dim(1) / 2, "half the row width of 'x'");
  guarded(info.Env(), "siluAndMul", [&] { backend_->silu_and_mul(out, x); });
  return info.Env().Undefined();
}

// A paged cache is [numBlocks, blockSize, kvHeads, headDim]; both caches must agree.
static void check_caches(const OpCheck& c, const TensorRef& k_cache, const TensorRef& v_cache) {
  c.kv_cache(k_cache, "kCache");
  c.rank(k_cache, "kCache", 4);
  c.same_dtype(v_cache, "vCache", k_cache, "kCache");
  c.same_shape(v_cache, "vCache", k_cache, "kCache");
}

Napi::Value NativeBackend::ReshapeAndCache(const Napi::CallbackInfo& info) {
  OpCheck c(info.Env(), "reshapeAndCache", *backend_);
  const TensorRef k = c.tensor(info[0], "k"), v = c.tensor(info[1], "v"), k_cache = c.tensor(info[2], "kCache"),
                  v_cache = c.tensor(info[3], "vCache"), slots = c.tensor(info[4], "slotMapping");
  check_caches(c, k_cache, v_cache);
  c.index_dtype(slots, "slotMapping");
  c.rank(slots, "slotMapping", 1);
  const int64_t T = slots.dim(0), width = k_cache.dim(2) * k_cache.dim(3);
  c.cache_input(k, "k", k_cache, "kCache");
  c.dim(k, "k", 0, T, "one row per slot");
  if (c.row_width(k, "k") != width && T > 0) {
    c.fail("E_SHAPE", "k", "row width must be kvHeads * headDim = " + std::to_string(width) + " (got shape " +
                               shape_str(k.shape) + ")");
  }
  c.same_dtype(v, "v", k, "k");
  c.same_shape(v, "v", k, "k");
  c.indices_in_range(slots, "slotMapping", 0, k_cache.dim(0) * k_cache.dim(1), "cache slots", true);
  guarded(info.Env(), "reshapeAndCache", [&] { backend_->reshape_and_cache(k, v, k_cache, v_cache, slots); });
  return info.Env().Undefined();
}

Napi::Value NativeBackend::SplitQkvRotaryCache(const Napi::CallbackInfo& info) {
  OpCheck c(info.Env(), "splitQkvRotaryCache", *backend_);
  const TensorRef q = c.tensor(info[0], "q"), qkv = c.tensor(info[1], "qkv"),
                  positions = c.tensor(info[2], "positions"), cos_sin = c.tensor(info[3], "cosSin"),
                  k_cache = c.tensor(info[4], "kCache"), v_cache = c.tensor(info[5], "vCache"),
                  slots = c.tensor(info[6], "slotMapping");
  check_caches(c, k_cache, v_cache);
  c.floating(cos_sin, "cosSin");
  c.rank(cos_sin, "cosSin", 2);
  const int64_t D = cos_sin.dim(1);
  if (D < 2 || D % 2) {
    c.fail("E_SHAPE", "cosSin",
           "dimension 1 (headDim) must be even and >= 2 (got shape " + shape_str(cos_sin.shape) + ")");
  }
  c.dim(k_cache, "kCache", 3, D, "headDim, the width of 'cosSin'");
  c.index_dtype(positions, "positions");
  c.rank(positions, "positions", 1);
  const int64_t T = positions.dim(0), kv_width = k_cache.dim(2) * D;
  c.floating(qkv, "qkv");
  c.cache_input(qkv, "qkv", k_cache, "kCache");
  c.rank(qkv, "qkv", 2);
  c.dim(qkv, "qkv", 0, T, "one row per position");
  const int64_t q_width = qkv.dim(1) - 2 * kv_width;
  if (q_width <= 0 || q_width % D) {
    c.fail("E_SHAPE", "qkv", "row width must be (numHeads + 2 * kvHeads) * headDim with numHeads >= 1 (kvHeads " +
                                 std::to_string(k_cache.dim(2)) + ", headDim " + std::to_string(D) + "; got shape " +
                                 shape_str(qkv.shape) + ")");
  }
  c.same_dtype(q, "q", qkv, "qkv");
  c.rank(q, "q", 2);
  c.dim(q, "q", 0, T, "one row per position");
  c.dim(q, "q", 1, q_width, "numHeads * headDim, the row width of 'qkv' less 2 * kvHeads * headDim");
  c.index_dtype(slots, "slotMapping");
  c.rank(slots, "slotMapping", 1);
  c.dim(slots, "slotMapping", 0, T, "one slot per position");
  c.indices_in_range(positions, "positions", 0, cos_sin.dim(0), "rows of 'cosSin'");
  c.indices_in_range(slots, "slotMapping", 0, k_cache.dim(0) * k_cache.dim(1), "cache slots", true);
  guarded(info.Env(), "splitQkvRotaryCache", [&] {
    backend_->split_qkv_rotary_cache(q, qkv, positions, cos_sin, k_cache, v_cache, slots);
  });
  return info.Env().Undefined();
}

// Shared checks of decode and prefill attention: q/out layout, GQA grouping, block tables and context lengths.
static void check_attention(const OpCheck& c, const TensorRef& out, const TensorRef& q, const TensorRef& k_cache,
                            const TensorRef& v_cache, const TensorRef& tables, const TensorRef& lens, int64_t B) {
  check_caches(c, k_cache, v_cache);
  const int64_t block_size = k_cache.dim(1), kv_heads = k_cache.dim(2), D = k_cache.dim(3);
  c.floating(q, "q");
  c.cache_input(q, "q", k_cache, "kCache");
  const int64_t width = c.row_width(q, "q");
  if (q.dim(0) > 0 && (width % D || (width / D) % kv_heads || width == 0)) {
    c.fail("E_SHAPE", "q", "row width must be numHeads * headDim with numHeads a multiple of the cache's " +
                               std::to_string(kv_heads) + " KV heads (headDim " + std::to_string(D) + "; got shape " +
                               shape_str(q.shape) + ")");
  }
  c.same_dtype(out, "out", q, "q");
  c.same_shape(out, "out", q, "q");
  c.dtype(tables, "blockTables", DType::I32);
  c.rank(tables, "blockTables", 2);
  c.dim(tables, "blockTables", 0, B, "one row per sequence");
  c.dtype(lens, "contextLens", DType::I32);
  c.rank(lens, "contextLens", 1);
  c.dim(lens, "contextLens", 0, B, "one entry per sequence");
  if (!c.host_readable(lens)) return;
  const int64_t max_blocks = tables.dim(1), num_blocks = k_cache.dim(0);
  for (int64_t b = 0; b < B; b++) {
    const int64_t len = c.read_index(lens, b);
    if (len < 0 || len > max_blocks * block_size) {
      c.fail("E_RANGE", "contextLens", "element " + std::to_string(b) + " is " + std::to_string(len) +
                                           ", outside [0, " + std::to_string(max_blocks * block_size) +
                                           "] (blockTables columns * blockSize)");
    }
    for (int64_t j = 0; j * block_size < len; j++) {
      const int64_t block = c.read_index(tables, b * max_blocks + j);
      if (block < 0 || block >= num_blocks) {
        c.fail("E_RANGE", "blockTables", "block id " + std::to_string(block) + " at [" + std::to_string(b) + ", " +
                                             std::to_string(j) + "] is outside [0, " + std::to_string(num_blocks) +
                                             ")");
      }
    }
  }
}

// The optional host-known bound on every context length (kNoMaxContextLen when omitted): at most the block tables'
// capacity, and no host-readable context length above it.
static int64_t check_max_context_len(const OpCheck& c, const Napi::Value& v, const TensorRef& tables,
                                     const TensorRef& lens, int64_t block_size) {
  if (v.IsUndefined() || v.IsNull()) return kNoMaxContextLen;
  const int64_t max_len = c.integer(v, "maxContextLen", 0, tables.dim(1) * block_size);
  if (!c.host_readable(lens)) return max_len;
  for (int64_t b = 0; b < lens.numel(); b++) {
    const int64_t len = c.read_index(lens, b);
    if (len > max_len) {
      c.fail("E_RANGE", "contextLens", "element " + std::to_string(b) + " is " + std::to_string(len) +
                                           ", above maxContextLen " + std::to_string(max_len));
    }
  }
  return max_len;
}

Napi::Value NativeBackend::PagedAttentionDecode(const Napi::CallbackInfo& info) {
  OpCheck c(info.Env(), "pagedAttentionDecode", *backend_);
  const TensorRef out = c.tensor(info[0], "out"), q = c.tensor(info[1], "q"), k_cache = c.tensor(info[2], "kCache"),
                  v_cache = c.tensor(info[3], "vCache"), tables = c.tensor(info[4], "blockTables"),
                  lens = c.tensor(info[5], "contextLens");
  const float scale = static_cast<float>(c.number(info[6], "scale"));
  if (q.shape.empty()) c.fail("E_SHAPE", "q", "must be [B, numHeads * headDim]");
  check_attention(c, out, q, k_cache, v_cache, tables, lens, q.dim(0));
  const int64_t max_len = check_max_context_len(c, info[7], tables, lens, k_cache.dim(1));
  guarded(info.Env(), "pagedAttentionDecode",
          [&] { backend_->paged_attention_decode(out, q, k_cache, v_cache, tables, lens, scale, max_len); });
  return info.Env().Undefined();
}

Napi::Value NativeBackend::PrefillAttention(const Napi::CallbackInfo& info) {
  OpCheck c(info.Env(), "prefillAttention", *backend_);
  const TensorRef out = c.tensor(info[0], "out"), q = c.tensor(info[1], "q"), k_cache = c.tensor(info[2], "kCache"),
                  v_cache = c.tensor(info[3], "vCache"), cu = c.tensor(info[4], "cuSeqlensQ"),
                  tables = c.tensor(info[5], "blockTables"), lens = c.tensor(info[6], "contextLens");
  const float scale = static_cast<float>(c.number(info[7], "scale"));
  c.dtype(cu, "cuSeqlensQ", DType::I32);
  c.rank(cu, "cuSeqlensQ", 1);
  if (cu.dim(0) < 1) c.fail("E_SHAPE", "cuSeqlensQ", "must have B + 1 >= 1 entries");
  if (q.shape.empty()) c.fail("E_SHAPE", "q", "must be [T, numHeads * headDim]");
  const int64_t B = cu.dim(0) - 1;
  check_attention(c, out, q, k_cache, v_cache, tables, lens, B);
  c.offsets(cu, "cuSeqlensQ", q.dim(0), "packed query rows of 'q'");
  if (c.host_readable(cu) && c.host_readable(lens)) {
    for (int64_t b = 0; b < B; b++) {
      const int64_t q_len = c.read_index(cu, b + 1) - c.read_index(cu, b);
      if (q_len > c.read_index(lens, b)) {
        c.fail("E_RANGE", "contextLens", "element " + std::to_string(b) + " is shorter than the sequence's " +
                                             std::to_string(q_len) + " query tokens");
      }
    }
  }
  guarded(info.Env(), "prefillAttention",
          [&] { backend_->prefill_attention(out, q, k_cache, v_cache, cu, tables, lens, scale); });
  return info.Env().Undefined();
}

static void check_pairs(const OpCheck& c, const TensorRef& pairs) {
  c.dtype(pairs, "pairs", DType::I32);
  c.rank(pairs, "pairs", 2);
  c.dim(pairs, "pairs", 1, 2, "(src, dst) per row");
}

// Checks column `col` of pairs against a cache's block count.
static void check_pair_column(const OpCheck& c, const TensorRef& pairs, int col, int64_t num_blocks,
                              const std::string& what) {
  if (!c.host_readable(pairs)) return;
  for (int64_t p = 0; p < pairs.dim(0); p++) {
    const int64_t block = c.read_index(pairs, 2 * p + col);
    if (block < 0 || block >= num_blocks) {
      c.fail("E_RANGE", "pairs", std::string(col ? "dst" : "src") + " block id " + std::to_string(block) +
                                     " in row " + std::to_string(p) + " is outside [0, " + std::to_string(num_blocks) +
                                     ") (" + what + ")");
    }
  }
}

Napi::Value NativeBackend::CopyBlocks(const Napi::CallbackInfo& info) {
  OpCheck c(info.Env(), "copyBlocks", *backend_);
  const std::vector<TensorRef> caches = c.tensor_list(info[0], "caches");
  const TensorRef pairs = c.tensor(info[1], "pairs");
  check_pairs(c, pairs);
  for (size_t i = 0; i < caches.size(); i++) {
    const std::string name = "caches[" + std::to_string(i) + "]";
    if (caches[i].shape.empty()) c.fail("E_SHAPE", name, "must be [numBlocks, ...]");
    check_pair_column(c, pairs, 0, caches[i].dim(0), "blocks of " + name);
    check_pair_column(c, pairs, 1, caches[i].dim(0), "blocks of " + name);
  }
  guarded(info.Env(), "copyBlocks", [&] { backend_->copy_blocks(caches, pairs); });
  return info.Env().Undefined();
}

Napi::Value NativeBackend::SwapBlocks(const Napi::CallbackInfo& info) {
  OpCheck c(info.Env(), "swapBlocks", *backend_);
  const TensorRef src = c.tensor(info[0], "src", true), dst = c.tensor(info[1], "dst", true),
                  pairs = c.tensor(info[2], "pairs");
  check_pairs(c, pairs);
  if (src.shape.empty()) c.fail("E_SHAPE", "src", "must be [numBlocks, ...]");
  c.same_dtype(dst, "dst", src, "src");
  if (dst.shape.size() != src.shape.size() || !std::equal(src.shape.begin() + 1, src.shape.end(), dst.shape.begin() + 1)) {
    c.fail("E_SHAPE", "dst", "blocks must have the shape of the blocks of 'src' " + shape_str(src.shape) +
                                 " (got " + shape_str(dst.shape) + ")");
  }
  check_pair_column(c, pairs, 0, src.dim(0), "blocks of 'src'");
  check_pair_column(c, pairs, 1, dst.dim(0), "blocks of 'dst'");
  guarded(info.Env(), "swapBlocks", [&] { backend_->swap_blocks(src, dst, pairs); });
  return info.Env().Undefined();
}

Napi::Value NativeBackend::Sample(const Napi::CallbackInfo& info) {
  OpCheck c(info.Env(), "sample", *backend_);
  const TensorRef out = c.tensor(info[0], "out"), logits = c.tensor(info[1], "logits");
  if (!info[2].IsObject()) c.fail("E_ARG_TYPE", "params", "must be a SamplingTensors object");
  Napi::Object p = info[2].As<Napi::Object>();
  c.floating(logits, "logits");
  c.rank(logits, "logits", 2);
  const int64_t B = logits.dim(0), V = logits.dim(1);
  if (V < 1) c.fail("E_SHAPE", "logits", "must have at least one column");
  c.dtype(out, "out", DType::I32);
  c.rank(out, "out", 1);
  c.dim(out, "out", 0, B, "one token per logits row");
  SamplingRefs r;
  auto field = [&](TensorRef& dst, const char* name, DType dtype, int64_t len) {
    const std::string arg = std::string("params.") + name;
    dst = c.tensor(p.Get(name), arg.c_str());
    c.dtype(dst, arg.c_str(), dtype);
    c.rank(dst, arg.c_str(), 1);
    if (len >= 0) c.dim(dst, arg.c_str(), 0, len, len == B ? "one entry per logits row" : "B + 1 offsets");
  };
  field(r.temperature, "temperature", DType::F32, B);
  field(r.top_k, "topK", DType::I32, B);
  field(r.top_p, "topP", DType::F32, B);
  field(r.min_p, "minP", DType::F32, B);
  field(r.repetition_penalty, "repetitionPenalty", DType::F32, B);
  field(r.presence_penalty, "presencePenalty", DType::F32, B);
  field(r.frequency_penalty, "frequencyPenalty", DType::F32, B);
  field(r.prompt_tokens, "promptTokens", DType::I32, -1);
  field(r.prompt_offsets, "promptOffsets", DType::I32, B + 1);
  field(r.output_tokens, "outputTokens", DType::I32, -1);
  field(r.output_offsets, "outputOffsets", DType::I32, B + 1);
  field(r.seeds, "seeds", DType::I64, B);
  field(r.steps, "steps", DType::I64, B);
  c.offsets(r.prompt_offsets, "params.promptOffsets", r.prompt_tokens.numel(), "packed 'promptTokens'");
  c.offsets(r.output_offsets, "params.outputOffsets", r.output_tokens.numel(), "packed 'outputTokens'");
  c.indices_in_range(r.prompt_tokens, "params.promptTokens", 0, V, "vocabulary of 'logits'");
  c.indices_in_range(r.output_tokens, "params.outputTokens", 0, V, "vocabulary of 'logits'");
  guarded(info.Env(), "sample", [&] { backend_->sample(out, logits, r); });
  return info.Env().Undefined();
}

static void check_logits(const OpCheck& c, const TensorRef& logits) {
  c.floating(logits, "logits");
  c.rank(logits, "logits", 2);
  if (logits.dim(1) < 1) c.fail("E_SHAPE", "logits", "must have at least one column");
}

Napi::Value NativeBackend::LogSoftmaxTopK(const Napi::CallbackInfo& info) {
  OpCheck c(info.Env(), "logSoftmaxTopK", *backend_);
  const TensorRef values = c.tensor(info[0], "values"), indices = c.tensor(info[1], "indices"),
                  logits = c.tensor(info[2], "logits");
  check_logits(c, logits);
  const int64_t k = c.integer(info[3], "k", 1, logits.dim(1));
  c.dtype(values, "values", DType::F32);
  c.rank(values, "values", 2);
  c.dim(values, "values", 0, logits.dim(0), "one row per logits row");
  c.dim(values, "values", 1, k, "k");
  c.dtype(indices, "indices", DType::I32);
  c.same_shape(indices, "indices", values, "values");
  guarded(info.Env(), "logSoftmaxTopK",
          [&] { backend_->log_softmax_topk(values, indices, logits, static_cast<int>(k)); });
  return info.Env().Undefined();
}

Napi::Value NativeBackend::GatherLogProbs(const Napi::CallbackInfo& info) {
  OpCheck c(info.Env(), "gatherLogProbs", *backend_);
  const TensorRef out = c.tensor(info[0], "out"), logits = c.tensor(info[1], "logits"),
                  tokens = c.tensor(info[2], "tokens");
  check_logits(c, logits);
  c.dtype(out, "out", DType::F32);
  c.rank(out, "out", 1);
  c.dim(out, "out", 0, logits.dim(0), "one entry per logits row");
  c.index_dtype(tokens, "tokens");
  c.rank(tokens, "tokens", 1);
  c.dim(tokens, "tokens", 0, logits.dim(0), "one token per logits row");
  c.indices_in_range(tokens, "tokens", 0, logits.dim(1), "vocabulary of 'logits'");
  guarded(info.Env(), "gatherLogProbs", [&] { backend_->gather_logprobs(out, logits, tokens); });
  return info.Env().Undefined();
}

Napi::Value NativeBackend::Argmax(const Napi::CallbackInfo& info) {
  OpCheck c(info.Env(), "argmax", *backend_);
  const TensorRef out = c.tensor(info[0], "out"), logits = c.tensor(info[1], "logits");
  check_logits(c, logits);
  c.dtype(out, "out", DType::I32);
  c.rank(out, "out", 1);
  c.dim(out, "out", 0, logits.dim(0), "one entry per logits row");
  guarded(info.Env(), "argmax", [&] { backend_->argmax(out, logits); });
  return info.Env().Undefined();
}

Napi::Value NativeBackend::ApplyTokenBitmask(const Napi::CallbackInfo& info) {
  OpCheck c(info.Env(), "applyTokenBitmask", *backend_);
  const TensorRef logits = c.tensor(info[0], "logits"), bitmask = c.tensor(info[1], "bitmask");
  check_logits(c, logits);
  c.dtype(bitmask, "bitmask", DType::I32);
  c.rank(bitmask, "bitmask", 2);
  c.dim(bitmask, "bitmask", 0, logits.dim(0), "one row per logits row");
  c.dim(bitmask, "bitmask", 1, (logits.dim(1) + 31) / 32, "ceil(V / 32) words");
  guarded(info.Env(), "applyTokenBitmask", [&] { backend_->apply_token_bitmask(logits, bitmask); });
  return info.Env().Undefined();
}

}  // namespace sluice
