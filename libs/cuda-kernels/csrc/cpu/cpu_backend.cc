#include "cpu/cpu_backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "cpu/isa.h"
#include "cpu/simd.h"
#include "cpu/vexp.h"

namespace sluice {

CpuBackend::CpuBackend(int threads) : threads_(threads) {
  cpu_isa();  // an unusable SLUICE_CPU_ISA fails here, when the backend is created, naming the variable
}

void CpuBackend::copy_from_host(void* dst, const void* src, size_t bytes) {
  if (bytes) std::memcpy(dst, src, bytes);
}
void CpuBackend::copy_to_host(void* dst, const void* src, size_t bytes) {
  if (bytes) std::memcpy(dst, src, bytes);
}

MemoryStats CpuBackend::memory_stats() const {
  MemoryStats s;
  s.allocated_bytes = pool_.allocated_bytes();
  s.cached_bytes = pool_.cached_bytes();
  return s;
}

// ---- events: CPU ops are synchronous, so an event is the time it was recorded ----

int CpuBackend::create_event() {
  const int id = next_event_++;
  events_[id] = std::chrono::steady_clock::time_point{};
  return id;
}

void CpuBackend::record_event(int event) {
  auto it = events_.find(event);
  if (it == events_.end()) throw BackendError("recordEvent: unknown event " + std::to_string(event));
  it->second = std::chrono::steady_clock::now();
}

void CpuBackend::wait_event(int event) {
  if (!events_.count(event)) throw BackendError("waitEvent: unknown event " + std::to_string(event));
}

float CpuBackend::elapsed_ms(int start, int end) {
  auto a = events_.find(start), b = events_.find(end);
  if (a == events_.end() || b == events_.end()) throw BackendError("elapsedMs: unknown event");
  return std::chrono::duration<float, std::milli>(b->second - a->second).count();
}

void CpuBackend::destroy_event(int event) { events_.erase(event); }

void CpuBackend::begin_capture() { throw BackendError("graph capture is not supported on the cpu backend"); }
int CpuBackend::end_capture() { throw BackendError("graph capture is not supported on the cpu backend"); }
void CpuBackend::replay(int) { throw BackendError("graph replay is not supported on the cpu backend"); }
void CpuBackend::destroy_graph(int) { throw BackendError("graphs are not supported on the cpu backend"); }

// ---- elementwise and data-movement ops ----

// A byte copy of table rows (or of their first out-width entries), so f32 embeddings and i32 block-table rows
// take the same path.
void CpuBackend::embedding(const TensorRef& out, const TensorRef& table, const TensorRef& ids) {
  const int64_t T = ids.numel(), W = out.dim(1);
  const size_t row = static_cast<size_t>(W) * dtype_size(table.dtype);
  const size_t stride = static_cast<size_t>(table.dim(1)) * dtype_size(table.dtype);
  char* o = static_cast<char*>(out.data);
  const char* tab = static_cast<const char*>(table.data);
  threads_.parallel_for(T, cpu_grain_rows(W), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; t++) std::memcpy(o + t * row, tab + cpu_index(ids, t) * stride, row);
  });
}

void CpuBackend::copy(const TensorRef& dst, const TensorRef& src) {
  std::memmove(dst.data, src.data, static_cast<size_t>(src.numel()) * dtype_size(src.dtype));
}

// Serial, so with repeated indices the last write wins (the order the CUDA backend does not promise).
void CpuBackend::scatter(const TensorRef& dst, const TensorRef& indices, const TensorRef& src) {
  int32_t* d = dst.ptr<int32_t>();
  const int32_t* s = src.ptr<int32_t>();
  const int32_t* idx = indices.ptr<int32_t>();
  for (int64_t i = 0, n = indices.numel(); i < n; i++) {
    if (idx[i] >= 0) d[idx[i]] = s[i];
  }
}

static float inv_rms(const float* x, int64_t H, float eps) {
  return 1.0f / std::sqrt(dot_f32(x, x, H) / static_cast<float>(H) + eps);
}

void CpuBackend::rms_norm(const TensorRef& out, const TensorRef& x, const TensorRef& weight, float eps) {
  const int64_t H = x.shape.back(), rows = H ? x.numel() / H : 0;
  const float* w = weight.ptr<float>();
  threads_.parallel_for(rows, cpu_grain_rows(H), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; r++) {
      const float* xr = x.ptr<float>() + r * H;
      float* o = out.ptr<float>() + r * H;
      const float s = inv_rms(xr, H, eps);
      for (int64_t i = 0; i < H; i++) o[i] = xr[i] * s * w[i];
    }
  });
}

void CpuBackend::fused_add_rms_norm(const TensorRef& x, const TensorRef& residual, const TensorRef& weight, float eps) {
  const int64_t H = x.shape.back(), rows = H ? x.numel() / H : 0;
  const float* w = weight.ptr<float>();
  threads_.parallel_for(rows, cpu_grain_rows(H), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; r++) {
      float* xr = x.ptr<float>() + r * H;
      float* res = residual.ptr<float>() + r * H;
      for (int64_t i = 0; i < H; i++) res[i] += xr[i];
      const float s = inv_rms(res, H, eps);
      for (int64_t i = 0; i < H; i++) xr[i] = res[i] * s * w[i];
    }
  });
}

void CpuBackend::rotary_embedding(const TensorRef& positions, const TensorRef& q, const TensorRef& k, int head_dim,
                                  const TensorRef& cos_sin) {
  cpu_rotary_embedding(threads_, positions, q, k, head_dim, cos_sin);
}

void CpuBackend::gemm(const TensorRef& out, const TensorRef& a, const TensorRef& w, const TensorRef* bias) {
  cpu_gemm(threads_, out.ptr<float>(), a.ptr<float>(), w.data, w.dtype == DType::BF16,
           bias ? bias->ptr<float>() : nullptr, a.dim(0), w.dim(0), w.dim(1));
}

// o = g / (1 + e^-g) * u, 8 lanes at a time through vexp (std::exp does not vectorize), the tail through a zero-padded
// vector, so every element takes the same arithmetic wherever it sits in the row.
static void silu_mul_row(float* o, const float* g, const float* u, int64_t F) {
  typedef float F8 __attribute__((vector_size(32)));
  auto one = [](const float* gp, const float* up, int n, float* op) {
    F8 gv = {}, uv = {};
    std::memcpy(&gv, gp, n * sizeof(float));
    std::memcpy(&uv, up, n * sizeof(float));
    const F8 r = gv / (1.0f + vexp(-gv)) * uv;
    std::memcpy(op, &r, n * sizeof(float));
  };
  int64_t i = 0;
  for (; i + 8 <= F; i += 8) one(g + i, u + i, 8, o + i);
  if (i < F) one(g + i, u + i, static_cast<int>(F - i), o + i);
}

void CpuBackend::silu_and_mul(const TensorRef& out, const TensorRef& x) {
  const int64_t T = out.dim(0), F = T ? out.numel() / T : 0;
  threads_.parallel_for(T, cpu_grain_rows(F), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; t++) {
      const float* g = x.ptr<float>() + t * 2 * F;
      const float* u = g + F;
      float* o = out.ptr<float>() + t * F;
      silu_mul_row(o, g, u, F);
    }
  });
}

void cpu_store_kv(const TensorRef& cache, int64_t at, const float* src, int64_t n) {
  if (cache.dtype == DType::F32) {
    std::memcpy(cache.ptr<float>() + at, src, n * sizeof(float));
    return;
  }
  uint16_t* dst = static_cast<uint16_t*>(cache.data) + at;
  for (int64_t i = 0; i < n; i++) {
    uint32_t bits;
    std::memcpy(&bits, src + i, 4);
    const bool nan = (bits & 0x7fffffffu) > 0x7f800000u;
    dst[i] = nan ? static_cast<uint16_t>((bits >> 16) | 0x40) : static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
  }
}

void CpuBackend::reshape_and_cache(const TensorRef& k, const TensorRef& v, const TensorRef& k_cache,
                                   const TensorRef& v_cache, const TensorRef& slot_mapping) {
  const int64_t T = slot_mapping.numel();
  if (T == 0) return;
  const int64_t width = k.numel() / T;
  if (k.dtype != k_cache.dtype) {  // f32 rows into a bf16 cache
    for (int64_t t = 0; t < T; t++) {
      const int64_t slot = cpu_index(slot_mapping, t);
      if (slot < 0) continue;
      cpu_store_kv(k_cache, slot * width, k.ptr<float>() + t * width, width);
      cpu_store_kv(v_cache, slot * width, v.ptr<float>() + t * width, width);
    }
    return;
  }
  const size_t row = static_cast<size_t>(width) * dtype_size(k.dtype);
  char* kc = static_cast<char*>(k_cache.data);
  char* vc = static_cast<char*>(v_cache.data);
  for (int64_t t = 0; t < T; t++) {
    const int64_t slot = cpu_index(slot_mapping, t);
    if (slot < 0) continue;
    std::memcpy(kc + slot * row, static_cast<const char*>(k.data) + t * row, row);
    std::memcpy(vc + slot * row, static_cast<const char*>(v.data) + t * row, row);
  }
}

void CpuBackend::split_qkv_rotary_cache(const TensorRef& q, const TensorRef& qkv, const TensorRef& positions,
                                        const TensorRef& cos_sin, const TensorRef& k_cache, const TensorRef& v_cache,
                                        const TensorRef& slot_mapping) {
  cpu_split_qkv_rotary_cache(threads_, q, qkv, positions, cos_sin, k_cache, v_cache, slot_mapping);
}

void CpuBackend::copy_blocks(const std::vector<TensorRef>& caches, const TensorRef& pairs) {
  const int64_t P = pairs.numel() / 2;
  for (const TensorRef& c : caches) {
    const size_t block = static_cast<size_t>(c.numel() / c.dim(0)) * dtype_size(c.dtype);
    char* base = static_cast<char*>(c.data);
    for (int64_t p = 0; p < P; p++) {
      std::memcpy(base + cpu_index(pairs, 2 * p + 1) * block, base + cpu_index(pairs, 2 * p) * block, block);
    }
  }
}

void CpuBackend::swap_blocks(const TensorRef& src, const TensorRef& dst, const TensorRef& pairs) {
  const int64_t P = pairs.numel() / 2;
  const size_t block = static_cast<size_t>(src.numel() / src.dim(0)) * dtype_size(src.dtype);
  for (int64_t p = 0; p < P; p++) {
    std::memcpy(static_cast<char*>(dst.data) + cpu_index(pairs, 2 * p + 1) * block,
                static_cast<const char*>(src.data) + cpu_index(pairs, 2 * p) * block, block);
  }
}

// ---- ops with their own kernel files ----

void CpuBackend::paged_attention_decode(const TensorRef& out, const TensorRef& q, const TensorRef& k_cache,
                                        const TensorRef& v_cache, const TensorRef& block_tables,
                                        const TensorRef& context_lens, float scale, int64_t) {
  // max_context_len only sizes the CUDA split; the binding layer has checked every length against it here.
  cpu_paged_decode(threads_, out, q, k_cache, v_cache, block_tables, context_lens, scale);
}

void CpuBackend::prefill_attention(const TensorRef& out, const TensorRef& q, const TensorRef& k_cache,
                                   const TensorRef& v_cache, const TensorRef& cu_seqlens_q,
                                   const TensorRef& block_tables, const TensorRef& context_lens, float scale) {
  cpu_prefill_attention(threads_, out, q, k_cache, v_cache, cu_seqlens_q, block_tables, context_lens, scale);
}

void CpuBackend::sample(const TensorRef& out, const TensorRef& logits, const SamplingRefs& params) {
  cpu_sample(threads_, out, logits, params);
}

void CpuBackend::log_softmax_topk(const TensorRef& values, const TensorRef& indices, const TensorRef& logits, int k) {
  cpu_log_softmax_topk(threads_, values, indices, logits, k);
}

void CpuBackend::gather_logprobs(const TensorRef& out, const TensorRef& logits, const TensorRef& tokens) {
  cpu_gather_logprobs(threads_, out, logits, tokens);
}

void CpuBackend::argmax(const TensorRef& out, const TensorRef& logits) { cpu_argmax(threads_, out, logits); }

void CpuBackend::apply_token_bitmask(const TensorRef& logits, const TensorRef& bitmask) {
  cpu_apply_token_bitmask(threads_, logits, bitmask);
}

}  // namespace sluice
