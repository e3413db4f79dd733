// Device helpers shared by the kernels: 16-bit float conversions, vector access, reductions, dtype dispatch.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "backend.h"

namespace sluice {
namespace cuda {

template <typename T> __device__ __forceinline__ float to_float(T v);
template <> __device__ __forceinline__ float to_float<float>(float v) { return v; }
template <> __device__ __forceinline__ float to_float<__half>(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ float to_float<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T> __device__ __forceinline__ T from_float(float v);
template <> __device__ __forceinline__ float from_float<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_float<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

// N elements of T moved as one aligned load/store (16 bytes when N * sizeof(T) == 16).
template <typename T, int N> struct alignas(sizeof(T) * N) Vec {
  T v[N];
};

template <typename T, int N> __device__ __forceinline__ void load_float(float (&dst)[N], const T* src) {
  const Vec<T, N> x = *reinterpret_cast<const Vec<T, N>*>(src);
#pragma unroll
  for (int i = 0; i < N; i++) dst[i] = to_float(x.v[i]);
}

template <typename T, int N> __device__ __forceinline__ void store_float(T* dst, const float (&src)[N]) {
  Vec<T, N> x;
#pragma unroll
  for (int i = 0; i < N; i++) x.v[i] = from_float<T>(src[i]);
  *reinterpret_cast<Vec<T, N>*>(dst) = x;
}

// Index tensors (token ids, positions, slots) may be i32 or i64.
template <typename I> __device__ __forceinline__ int64_t load_index(const I* p, int64_t i) {
  return static_cast<int64_t>(p[i]);
}

// Neox rotation of the pair (x[j], x[j + D/2]) by the cos c and sin s of frequency j: the one formula that
// rotary_embedding and split_qkv_rotary_cache share, so the fused op rounds exactly as the unfused one.
__device__ __forceinline__ void rotate_pair(float& x1, float& x2, float c, float s) {
  const float a = x1 * c - x2 * s, b = x2 * c + x1 * s;
  x1 = a;
  x2 = b;
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Block-wide sum/max for blockDim.x a multiple of 32 (<= 1024); every thread gets the result.
// `scratch` holds at least 33 floats and may be reused once the call returns.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < nwarps ? scratch[lane] : 0.f;
  v = warp_sum(v);
  if (threadIdx.x == 0) scratch[32] = v;
  __syncthreads();
  return scratch[32];
}

__device__ __forceinline__ float block_max(float v, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < nwarps ? scratch[lane] : -INFINITY;
  v = warp_max(v);
  if (threadIdx.x == 0) scratch[32] = v;
  __syncthreads();
  return scratch[32];
}

inline int ceil_div(int64_t a, int64_t b) { return static_cast<int>((a + b - 1) / b); }

[[noreturn]] inline void unsupported(const char* op, const std::string& what) {
  throw UnsupportedError(std::string("cuda ") + op + ": unsupported " + what);
}

}  // namespace cuda
}  // namespace sluice

// Runs the body with `T` bound to the device scalar type of a float dtype (f32, f16, bf16).
#define SLUICE_DISPATCH_FLOAT(OP, DTYPE, T, ...)                                   \
  switch (DTYPE) {                                                                 \
    case ::sluice::DType::F32: { using T = float; __VA_ARGS__; break; }            \
    case ::sluice::DType::F16: { using T = __half; __VA_ARGS__; break; }           \
    case ::sluice::DType::BF16: { using T = __nv_bfloat16; __VA_ARGS__; break; }   \
    default: ::sluice::cuda::unsupported(OP, std::string("dtype ") + ::sluice::dtype_name(DTYPE)); \
  }

// Runs the body with `I` bound to int32_t or int64_t for an index dtype.
#define SLUICE_DISPATCH_INDEX(OP, DTYPE, I, ...)                                   \
  switch (DTYPE) {                                                                 \
    case ::sluice::DType::I32: { using I = int32_t; __VA_ARGS__; break; }          \
    case ::sluice::DType::I64: { using I = int64_t; __VA_ARGS__; break; }          \
    default: ::sluice::cuda::unsupported(OP, std::string("index dtype ") + ::sluice::dtype_name(DTYPE)); \
  }
