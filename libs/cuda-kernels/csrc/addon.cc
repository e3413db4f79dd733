// Module entry: per-environment instance data, so the addon loads in the main thread and every worker_thread.
#include <napi.h>

#include <vector>

#include "addon.h"
#include "cpu/isa.h"
#include "native_backend.h"
#include "tensor.h"
#ifdef SLUICE_WITH_CUDA
#include "cuda/cuda_backend.h"
#endif

namespace sluice {

void throw_kernel_error(Napi::Env env, const std::string& code, const std::string& op, const std::string& arg,
                        const std::string& message) {
  AddonData* data = env.GetInstanceData<AddonData>();
  if (data && !data->error_ctor.IsEmpty()) {
    Napi::Object err = data->error_ctor.New({Napi::String::New(env, message), Napi::String::New(env, code),
                                             Napi::String::New(env, op), Napi::String::New(env, arg)});
    throw Napi::Error(env, err);
  }
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  err.Set("op", Napi::String::New(env, op));
  err.Set("arg", Napi::String::New(env, arg));
  throw err;
}

static Napi::Value RegisterErrorClass(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) throw Napi::TypeError::New(info.Env(), "registerErrorClass: expected a constructor");
  info.Env().GetInstanceData<AddonData>()->error_ctor = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

static Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) {
#ifdef SLUICE_WITH_CUDA
  int n = 0;
  try {
    n = cuda_device_count();
  } catch (const std::exception&) {
    n = 0;  // no driver or no device: the CPU backend still works
  }
  return Napi::Number::New(info.Env(), n);
#else
  return Napi::Number::New(info.Env(), 0);
#endif
}

// The CPU kernel set chosen at load ({ path, avx512bf16 }); throws a KernelError when SLUICE_CPU_ISA cannot be met.
static Napi::Value CpuKernelPath(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  try {
    o.Set("path", Napi::String::New(info.Env(), cpu_isa_name(cpu_isa())));
  } catch (const std::exception& e) {
    throw_kernel_error(info.Env(), "E_BACKEND", "cpuKernelPath", "", e.what());
  }
  o.Set("avx512bf16", Napi::Boolean::New(info.Env(), cpu_has_avx512_bf16()));
  return o;
}

std::vector<double> cpu_fma_peak(int lanes, int threads, double seconds);

// cpuFmaPeak(lanes, threads, seconds): each thread's GFLOP/s in an fma loop of 8- or 16-lane f32 vectors.
static Napi::Value CpuFmaPeak(const Napi::CallbackInfo& info) {
  const int lanes = info[0].As<Napi::Number>().Int32Value(), threads = info[1].As<Napi::Number>().Int32Value();
  const double seconds = info[2].As<Napi::Number>().DoubleValue();
  if (threads < 1 || threads > 1024 || !(seconds > 0 && seconds <= 60)) {
    throw_kernel_error(info.Env(), "E_RANGE", "cpuFmaPeak", "threads", "cpuFmaPeak: threads must be in [1, 1024] and seconds in (0, 60]");
  }
  std::vector<double> per;
  try {
    per = cpu_fma_peak(lanes, threads, seconds);
  } catch (const std::exception& e) {
    throw_kernel_error(info.Env(), "E_UNSUPPORTED", "cpuFmaPeak", "lanes", std::string("cpuFmaPeak: ") + e.what());
  }
  Napi::Array out = Napi::Array::New(info.Env(), per.size());
  for (size_t i = 0; i < per.size(); i++) out.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), per[i]));
  return out;
}

double cpu_read_bandwidth(int threads, size_t bytes);

// cpuReadBandwidth(threads, bytes): GB/s of threads summing one buffer, best of 5 passes.
static Napi::Value CpuReadBandwidth(const Napi::CallbackInfo& info) {
  const int threads = info[0].As<Napi::Number>().Int32Value();
  const double bytes = info[1].As<Napi::Number>().DoubleValue();
  if (threads < 1 || threads > 1024 || !(bytes >= 1 << 20 && bytes <= double(1ull << 36))) {
    throw_kernel_error(info.Env(), "E_RANGE", "cpuReadBandwidth", "threads", "cpuReadBandwidth: threads must be in [1, 1024] and bytes in [1 MiB, 64 GiB]");
  }
  try {
    return Napi::Number::New(info.Env(), cpu_read_bandwidth(threads, static_cast<size_t>(bytes)));
  } catch (const std::exception& e) {
    throw_kernel_error(info.Env(), "E_ALLOC", "cpuReadBandwidth", "bytes", std::string("cpuReadBandwidth: ") + e.what());
  }
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);
  Napi::Function tensor = Tensor::Define(env);
  Napi::Function backend = NativeBackend::Define(env);
  data->tensor_ctor = Napi::Persistent(tensor);
  data->backend_ctor = Napi::Persistent(backend);
  exports.Set("Tensor", tensor);
  exports.Set("NativeBackend", backend);
  exports.Set("registerErrorClass", Napi::Function::New(env, RegisterErrorClass, "registerErrorClass"));
  exports.Set("cpuReadBandwidth", Napi::Function::New(env, CpuReadBandwidth, "cpuReadBandwidth"));
  exports.Set("cpuFmaPeak", Napi::Function::New(env, CpuFmaPeak, "cpuFmaPeak"));
  exports.Set("cpuKernelPath", Napi::Function::New(env, CpuKernelPath, "cpuKernelPath"));
  exports.Set("cudaDeviceCount", Napi::Function::New(env, CudaDeviceCount, "cudaDeviceCount"));
  exports.Set("cudaBuilt", Napi::Boolean::New(env,
#ifdef SLUICE_WITH_CUDA
                                              true
#else
                                              false
#endif
                                              ));
  return exports;
}

}  // namespace sluice

static Napi::Object InitSluiceKernels(Napi::Env env, Napi::Object exports) { return sluice::Init(env, exports); }

NODE_API_MODULE(sluice_kernels, InitSluiceKernels)
