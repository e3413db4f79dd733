// Neox (rotate-half) rotary embedding on CPU, alone and fused into the attention input: the split of one
// fused QKV GEMM output into q and the paged K/V caches. Both paths rotate through cpu_rotate_heads, so the
// fused op reproduces gemm → rotaryEmbedding → reshapeAndCache bit for bit.
#include <cstring>
#include <vector>

#include "cpu/cpu_backend.h"

namespace sluice {

__attribute__((noinline)) void cpu_rotate_heads(float* x, int64_t heads, int64_t D, const float* cs) {
  const int64_t half = D / 2;
  for (int64_t h = 0; h < heads; h++) {
    float* v = x + h * D;
    for (int64_t i = 0; i < half; i++) {
      const float c = cs[i], s = cs[half + i];
      const float x1 = v[i], x2 = v[half + i];
      v[i] = x1 * c - x2 * s;
      v[half + i] = x2 * c + x1 * s;
    }
  }
}

void cpu_rotary_embedding(ThreadPool& pool, const TensorRef& positions, const TensorRef& q, const TensorRef& k,
                          int head_dim, const TensorRef& cos_sin) {
  const int64_t T = positions.numel();
  if (T == 0) return;
  const int64_t qh = q.numel() / T / head_dim, kh = k.numel() / T / head_dim;
  pool.parallel_for(T, cpu_grain_rows((qh + kh) * head_dim), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; t++) {
      const float* cs = cos_sin.ptr<float>() + cpu_index(positions, t) * head_dim;
      cpu_rotate_heads(q.ptr<float>() + t * qh * head_dim, qh, head_dim, cs);
      cpu_rotate_heads(k.ptr<float>() + t * kh * head_dim, kh, head_dim, cs);
    }
  });
}

// qkv row t = [q (nH·D) | k (nKv·D) | v (nKv·D)]. q rows are rotated in parallel; the cache writes run in token
// order, as reshape_and_cache's do, so a slot named twice keeps the later token's row there too. Keys are rotated
// in f32 and then stored, so a bf16 cache gets the bits gemm → rotaryEmbedding → reshapeAndCache would give it.
void cpu_split_qkv_rotary_cache(ThreadPool& pool, const TensorRef& q, const TensorRef& qkv,
                                const TensorRef& positions, const TensorRef& cos_sin, const TensorRef& k_cache,
                                const TensorRef& v_cache, const TensorRef& slot_mapping) {
  const int64_t T = positions.numel();
  if (T == 0) return;
  const int64_t D = cos_sin.dim(1), q_width = q.numel() / T, kv_width = k_cache.dim(2) * D;
  const int64_t row = q_width + 2 * kv_width;
  const float* src = qkv.ptr<float>();
  auto cs = [&](int64_t t) { return cos_sin.ptr<float>() + cpu_index(positions, t) * D; };
  pool.parallel_for(T, cpu_grain_rows(q_width), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; t++) {
      float* qt = q.ptr<float>() + t * q_width;
      std::memcpy(qt, src + t * row, q_width * sizeof(float));
      cpu_rotate_heads(qt, q_width / D, D, cs(t));
    }
  });
  thread_local std::vector<float> k_row;  // the rotated key before it is stored (rounded, into a bf16 cache)
  k_row.resize(kv_width);
  for (int64_t t = 0; t < T; t++) {
    const int64_t slot = cpu_index(slot_mapping, t);
    if (slot < 0) continue;
    std::memcpy(k_row.data(), src + t * row + q_width, kv_width * sizeof(float));
    cpu_rotate_heads(k_row.data(), kv_width / D, D, cs(t));
    cpu_store_kv(k_cache, slot * kv_width, k_row.data(), kv_width);
    cpu_store_kv(v_cache, slot * kv_width, src + t * row + q_width + kv_width, kv_width);
  }
}

}  // namespace sluice
