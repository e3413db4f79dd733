// Row-wise and element-wise ops: embedding gather, i32 scatter, RMSNorm (plain and fused with the residual add),
// neox rotary embedding, SiLU-and-mul and the GEMM bias epilogue. All accumulate in f32.
#include <algorithm>

#include "check.h"
#include "common.cuh"
#include "kernels.h"

namespace sluice {
namespace cuda {
namespace {

bool aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

// Elements per 16-byte access when the row length and every pointer allow it, else 1.
template <typename T> int vec_width(int64_t row, std::initializer_list<const void*> ptrs) {
  constexpr int kVec = 16 / sizeof(T);
  if (row % kVec != 0) return 1;
  for (const void* p : ptrs) {
    if (!aligned(p, 16)) return 1;
  }
  return kVec;
}

int row_threads(int64_t work) {
  const int64_t t = ((work + 31) / 32) * 32;
  return static_cast<int>(std::min<int64_t>(std::max<int64_t>(t, 32), 1024));
}

// ---- embedding: a byte copy of table rows, in the widest access the row size and alignment allow.
// out rows may be narrower than table rows (their first entries are taken): row_vecs is out's, stride_vecs table's.
// An id outside the table's rows leaves its out row unwritten.
template <typename V, typename I>
__global__ void gather_rows_kernel(V* __restrict__ out, const V* __restrict__ table, const I* __restrict__ ids,
                                   int64_t row_vecs, int64_t stride_vecs, int64_t table_rows, IndexFault* fault) {
  const int64_t t = blockIdx.x;
  const int64_t id = load_index(ids, t);
  if (!index_ok(threadIdx.x == 0 ? fault : nullptr, kArgIds, t, id, 0, table_rows)) return;
  const V* src = table + id * stride_vecs;
  V* dst = out + t * row_vecs;
  for (int64_t i = threadIdx.x; i < row_vecs; i += blockDim.x) dst[i] = src[i];
}

template <typename V, typename I>
void launch_gather(void* out, const void* table, const I* ids, int64_t rows, int64_t row_bytes, int64_t stride_bytes,
                   int64_t table_rows, IndexFault* fault, cudaStream_t s) {
  const int64_t vecs = row_bytes / static_cast<int64_t>(sizeof(V));
  gather_rows_kernel<V, I><<<static_cast<unsigned>(rows), row_threads(vecs), 0, s>>>(
      static_cast<V*>(out), static_cast<const V*>(table), ids, vecs, stride_bytes / static_cast<int64_t>(sizeof(V)),
      table_rows, fault);
  SLUICE_LAUNCH_CHECK();
}

// ---- scatter: dst[indices[i]] = src[i]; indices outside [0, limit) are skipped.
__global__ void scatter_kernel(int32_t* __restrict__ dst, const int32_t* __restrict__ indices,
                               const int32_t* __restrict__ src, int64_t n, int64_t limit, IndexFault* fault) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t at = indices[i];
    if (at >= 0 && index_ok(fault, kArgIndices, i, at, 0, limit)) dst[at] = src[i];
  }
}

// ---- RMSNorm
template <typename T, int VEC>
__global__ void rms_norm_kernel(T* __restrict__ out, const T* __restrict__ x, const T* __restrict__ w, int H,
                                float eps) {
  __shared__ float scratch[33];
  const T* xr = x + static_cast<int64_t>(blockIdx.x) * H;
  T* outr = out + static_cast<int64_t>(blockIdx.x) * H;
  float ss = 0.f;
  for (int i = threadIdx.x * VEC; i < H; i += blockDim.x * VEC) {
    float v[VEC];
    load_float<T, VEC>(v, xr + i);
#pragma unroll
    for (int j = 0; j < VEC; j++) ss += v[j] * v[j];
  }
  const float inv = rsqrtf(block_sum(ss, scratch) / H + eps);
  for (int i = threadIdx.x * VEC; i < H; i += blockDim.x * VEC) {
    float v[VEC], g[VEC];
    load_float<T, VEC>(v, xr + i);
    load_float<T, VEC>(g, w + i);
#pragma unroll
    for (int j = 0; j < VEC; j++) v[j] = v[j] * inv * g[j];
    store_float<T, VEC>(outr + i, v);
  }
}

// residual += x; x = rmsnorm(residual) * w. The norm uses the residual as stored (rounded to T), and each
// thread re-reads only the elements it wrote itself, so no barrier is needed between the passes.
template <typename T, int VEC>
__global__ void fused_add_rms_norm_kernel(T* __restrict__ x, T* __restrict__ residual, const T* __restrict__ w,
                                          int H, float eps) {
  __shared__ float scratch[33];
  T* xr = x + static_cast<int64_t>(blockIdx.x) * H;
  T* rr = residual + static_cast<int64_t>(blockIdx.x) * H;
  float ss = 0.f;
  for (int i = threadIdx.x * VEC; i < H; i += blockDim.x * VEC) {
    float a[VEC], b[VEC];
    load_float<T, VEC>(a, xr + i);
    load_float<T, VEC>(b, rr + i);
    Vec<T, VEC> z;
#pragma unroll
    for (int j = 0; j < VEC; j++) {
      z.v[j] = from_float<T>(a[j] + b[j]);
      const float zr = to_float(z.v[j]);
      ss += zr * zr;
    }
    *reinterpret_cast<Vec<T, VEC>*>(rr + i) = z;
  }
  const float inv = rsqrtf(block_sum(ss, scratch) / H + eps);
  for (int i = threadIdx.x * VEC; i < H; i += blockDim.x * VEC) {
    float v[VEC], g[VEC];
    load_float<T, VEC>(v, rr + i);
    load_float<T, VEC>(g, w + i);
#pragma unroll
    for (int j = 0; j < VEC; j++) v[j] = v[j] * inv * g[j];
    store_float<T, VEC>(xr + i, v);
  }
}

template <typename T>
void launch_norm(bool fused, T* out_or_x, const T* x, T* residual, const T* w, int64_t rows, int H, float eps,
                 cudaStream_t s) {
  const int vec = vec_width<T>(H, {out_or_x, x, residual, w});
  const unsigned grid = static_cast<unsigned>(rows);
  const int threads = row_threads(H / vec);
#define SLUICE_NORM_LAUNCH(V)                                                                                  \
  if (fused) fused_add_rms_norm_kernel<T, V><<<grid, threads, 0, s>>>(out_or_x, residual, w, H, eps);         \
  else rms_norm_kernel<T, V><<<grid, threads, 0, s>>>(out_or_x, x, w, H, eps);
  if (vec == 8) {
    SLUICE_NORM_LAUNCH(8)
  } else if (vec == 4) {
    SLUICE_NORM_LAUNCH(4)
  } else {
    SLUICE_NORM_LAUNCH(1)
  }
#undef SLUICE_NORM_LAUNCH
  SLUICE_LAUNCH_CHECK();
}

// The weight has the activations' dtype (checked by the binding layer).
template <typename T>
void dispatch_norm(bool fused, const TensorRef& out_or_x, const TensorRef& x, const TensorRef* residual,
                   const TensorRef& weight, float eps, cudaStream_t s) {
  const int H = static_cast<int>(weight.numel());
  const int64_t rows = H == 0 ? 0 : out_or_x.numel() / H;
  if (rows == 0) return;
  launch_norm<T>(fused, out_or_x.ptr<T>(), x.ptr<T>(), residual ? residual->ptr<T>() : nullptr, weight.ptr<T>(), rows,
                 H, eps, s);
}

// ---- rotary embedding (neox / rotate-half): pairs (j, j + D/2) rotate by the angle of frequency j.
// A position outside cosSin's rows leaves its token's q and k unrotated.
template <typename T, typename C, typename I>
__global__ void rotary_kernel(const I* __restrict__ positions, T* __restrict__ q, T* __restrict__ k,
                              const C* __restrict__ cos_sin, int nq, int nk, int D, int64_t max_pos,
                              IndexFault* fault) {
  const int64_t t = blockIdx.x;
  const int half = D / 2;
  const int64_t pos = load_index(positions, t);
  if (!index_ok(threadIdx.x == 0 ? fault : nullptr, kArgPositions, t, pos, 0, max_pos)) return;
  const C* cs = cos_sin + pos * D;
  const int total = (nq + nk) * half;
  for (int i = threadIdx.x; i < total; i += blockDim.x) {
    const int head = i / half, j = i - head * half;
    T* base = head < nq ? q + (t * nq + head) * D : k + (t * nk + head - nq) * D;
    float x1 = to_float(base[j]), x2 = to_float(base[j + half]);
    rotate_pair(x1, x2, to_float(cs[j]), to_float(cs[half + j]));
    base[j] = from_float<T>(x1);
    base[j + half] = from_float<T>(x2);
  }
}

// ---- SwiGLU
template <typename T, int VEC>
__global__ void silu_and_mul_kernel(T* __restrict__ out, const T* __restrict__ x, int64_t F) {
  const int64_t t = blockIdx.x;
  const T* gate = x + t * 2 * F;
  const T* up = gate + F;
  for (int64_t i = threadIdx.x * VEC; i < F; i += blockDim.x * VEC) {
    float a[VEC], b[VEC];
    load_float<T, VEC>(a, gate + i);
    load_float<T, VEC>(b, up + i);
#pragma unroll
    for (int j = 0; j < VEC; j++) a[j] = a[j] / (1.f + expf(-a[j])) * b[j];
    store_float<T, VEC>(out + t * F + i, a);
  }
}

template <typename T>
__global__ void add_bias_kernel(T* __restrict__ out, const T* __restrict__ bias, int64_t total, int64_t N) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    out[i] = from_float<T>(to_float(out[i]) + to_float(bias[i % N]));
  }
}

}  // namespace

void embedding(const TensorRef& out, const TensorRef& table, const TensorRef& ids, IndexFault* fault,
               cudaStream_t stream) {
  const int64_t rows = ids.numel();
  if (rows == 0) return;
  const int64_t row_bytes = static_cast<int64_t>(out.dim(out.shape.size() - 1)) * dtype_size(table.dtype);
  const int64_t stride_bytes = static_cast<int64_t>(table.dim(table.shape.size() - 1)) * dtype_size(table.dtype);
  SLUICE_DISPATCH_INDEX("embedding", ids.dtype, I, {
    const I* idp = ids.ptr<const I>();
    const auto fits = [&](int64_t a) { return row_bytes % a == 0 && stride_bytes % a == 0 && aligned(out.data, a) && aligned(table.data, a); };
    if (fits(16)) launch_gather<uint4, I>(out.data, table.data, idp, rows, row_bytes, stride_bytes, table.dim(0), fault, stream);
    else if (fits(4)) launch_gather<uint32_t, I>(out.data, table.data, idp, rows, row_bytes, stride_bytes, table.dim(0), fault, stream);
    else launch_gather<uint16_t, I>(out.data, table.data, idp, rows, row_bytes, stride_bytes, table.dim(0), fault, stream);
  });
}

void scatter(const TensorRef& dst, const TensorRef& indices, const TensorRef& src, IndexFault* fault,
             cudaStream_t stream) {
  const int64_t n = indices.numel();
  if (n == 0) return;
  const unsigned grid = static_cast<unsigned>(std::min<int64_t>((n + 255) / 256, 65535));
  scatter_kernel<<<grid, 256, 0, stream>>>(dst.ptr<int32_t>(), indices.ptr<const int32_t>(), src.ptr<const int32_t>(),
                                           n, dst.numel(), fault);
  SLUICE_LAUNCH_CHECK();
}

void rms_norm(const TensorRef& out, const TensorRef& x, const TensorRef& weight, float eps, cudaStream_t stream) {
  SLUICE_DISPATCH_FLOAT("rms_norm", x.dtype, T, dispatch_norm<T>(false, out, x, nullptr, weight, eps, stream));
}

void fused_add_rms_norm(const TensorRef& x, const TensorRef& residual, const TensorRef& weight, float eps,
                        cudaStream_t stream) {
  SLUICE_DISPATCH_FLOAT("fused_add_rms_norm", x.dtype, T,
                        dispatch_norm<T>(true, x, x, &residual, weight, eps, stream));
}

void rotary_embedding(const TensorRef& positions, const TensorRef& q, const TensorRef& k, int head_dim,
                      const TensorRef& cos_sin, IndexFault* fault, cudaStream_t stream) {
  const int64_t tokens = positions.numel();
  if (tokens == 0) return;
  const int nq = static_cast<int>(q.numel() / (tokens * head_dim));
  const int nk = static_cast<int>(k.numel() / (tokens * head_dim));
  const int threads = row_threads(static_cast<int64_t>(nq + nk) * head_dim / 2);
  const unsigned grid = static_cast<unsigned>(tokens);
  // cosSin may be stored in any float dtype, independently of q/k.
  SLUICE_DISPATCH_FLOAT("rotary_embedding", q.dtype, T, {
    SLUICE_DISPATCH_FLOAT("rotary_embedding", cos_sin.dtype, C, {
      SLUICE_DISPATCH_INDEX("rotary_embedding", positions.dtype, I, {
        rotary_kernel<T, C, I><<<grid, threads, 0, stream>>>(positions.ptr<const I>(), q.ptr<T>(), k.ptr<T>(),
                                                             cos_sin.ptr<const C>(), nq, nk, head_dim,
                                                             cos_sin.dim(0), fault);
        SLUICE_LAUNCH_CHECK();
      });
    });
  });
}

void silu_and_mul(const TensorRef& out, const TensorRef& x, cudaStream_t stream) {
  const int64_t F = out.dim(out.shape.size() - 1);
  const int64_t rows = F == 0 ? 0 : out.numel() / F;
  if (rows == 0) return;
  SLUICE_DISPATCH_FLOAT("silu_and_mul", out.dtype, T, {
    const int vec = vec_width<T>(F, {out.data, x.data});
    const unsigned grid = static_cast<unsigned>(rows);
    if (vec == 8) silu_and_mul_kernel<T, 8><<<grid, row_threads(F / 8), 0, stream>>>(out.ptr<T>(), x.ptr<const T>(), F);
    else if (vec == 4) silu_and_mul_kernel<T, 4><<<grid, row_threads(F / 4), 0, stream>>>(out.ptr<T>(), x.ptr<const T>(), F);
    else silu_and_mul_kernel<T, 1><<<grid, row_threads(F), 0, stream>>>(out.ptr<T>(), x.ptr<const T>(), F);
    SLUICE_LAUNCH_CHECK();
  });
}

void add_bias(const TensorRef& out, const TensorRef& bias, cudaStream_t stream) {
  const int64_t total = out.numel(), N = bias.numel();
  if (total == 0) return;
  const unsigned grid = static_cast<unsigned>(std::min<int64_t>((total + 255) / 256, 65535));
  SLUICE_DISPATCH_FLOAT("gemm bias", out.dtype, T, {
    add_bias_kernel<T><<<grid, 256, 0, stream>>>(out.ptr<T>(), bias.ptr<const T>(), total, N);
    SLUICE_LAUNCH_CHECK();
  });
}

}  // namespace cuda
}  // namespace sluice
