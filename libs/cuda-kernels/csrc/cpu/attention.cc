// Paged attention on CPU. Keys and values are gathered block by block through the block table and folded
// into a running (max, sum, weighted V) per query row, the online softmax, so no score matrix larger than
// one cache block per query row ever exists.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <vector>

#include "cpu/cpu_backend.h"
#include "cpu/simd.h"

namespace sluice {
namespace {

struct CacheGeometry {
  const float* k;
  const float* v;
  int64_t block_size, kv_heads, head_dim;
  const int32_t* tables;
  int64_t max_blocks;

  const float* key(int64_t block, int64_t offset, int64_t head) const {
    return k + ((block * block_size + offset) * kv_heads + head) * head_dim;
  }
  const float* value(int64_t block, int64_t offset, int64_t head) const {
    return v + ((block * block_size + offset) * kv_heads + head) * head_dim;
  }
};

CacheGeometry geometry(const TensorRef& k_cache, const TensorRef& v_cache, const TensorRef& block_tables) {
  return {k_cache.ptr<float>(), v_cache.ptr<float>(), k_cache.dim(1), k_cache.dim(2), k_cache.dim(3),
          block_tables.ptr<int32_t>(), block_tables.numel() == 0 ? 0 : block_tables.dim(1)};
}

// The running softmax state of one query row.
struct RowState {
  float max = -std::numeric_limits<float>::infinity();
  float sum = 0.f;
  float* acc;  // [head_dim]
};

// Dot products of q with four key rows `stride` floats apart, sharing each load of q.
void dot4(const float* q, const float* k, int64_t stride, int64_t D, float* out) {
  v8f a0 = splat8(0.f), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 8 <= D; i += 8) {
    const v8f qv = load8(q + i);
    a0 += qv * load8(k + i);
    a1 += qv * load8(k + stride + i);
    a2 += qv * load8(k + 2 * stride + i);
    a3 += qv * load8(k + 3 * stride + i);
  }
  float s[4] = {hsum8(a0), hsum8(a1), hsum8(a2), hsum8(a3)};
  for (; i < D; i++)
    for (int j = 0; j < 4; j++) s[j] += q[i] * k[j * stride + i];
  for (int j = 0; j < 4; j++) out[j] = s[j];
}

// acc += Σ_j p[j] · v_j over four value rows `stride` floats apart: one pass over acc per four keys.
void axpy4(float* acc, const float* v, int64_t stride, const float* p, int64_t D) {
  const v8f p0 = splat8(p[0]), p1 = splat8(p[1]), p2 = splat8(p[2]), p3 = splat8(p[3]);
  int64_t i = 0;
  for (; i + 8 <= D; i += 8) {
    store8(acc + i, load8(acc + i) + p0 * load8(v + i) + p1 * load8(v + stride + i) + p2 * load8(v + 2 * stride + i) +
                        p3 * load8(v + 3 * stride + i));
  }
  for (; i < D; i++) acc[i] += p[0] * v[i] + p[1] * v[stride + i] + p[2] * v[2 * stride + i] + p[3] * v[3 * stride + i];
}

// Folds keys [0, n) of one cache block into `rows` query rows of one KV head; row r sees keys < limit[r].
// Keys go four at a time so the dot products and the value updates have independent chains to overlap.
void fold_block(const CacheGeometry& g, int64_t block, int64_t n, int64_t kv_head, const float* const* q_rows,
                const int64_t* limit, RowState* rows, int64_t num_rows, float scale, float* scores) {
  const int64_t D = g.head_dim, stride = g.kv_heads * D;
  const float* keys = g.key(block, 0, kv_head);
  const float* values = g.value(block, 0, kv_head);
  for (int64_t r = 0; r < num_rows; r++) {
    const int64_t valid = std::min(n, limit[r]);
    if (valid <= 0) continue;
    int64_t t = 0;
    for (; t + 4 <= valid; t += 4) dot4(q_rows[r], keys + t * stride, stride, D, scores + t);
    for (; t < valid; t++) scores[t] = dot_f32(q_rows[r], keys + t * stride, D);
    float block_max = -std::numeric_limits<float>::infinity();
    for (t = 0; t < valid; t++) block_max = std::max(block_max, scores[t] *= scale);
    RowState& s = rows[r];
    const float new_max = std::max(s.max, block_max);
    const float correction = std::exp(s.max - new_max);
    s.sum *= correction;
    for (int64_t i = 0; i < D; i++) s.acc[i] *= correction;
    for (t = 0; t < valid; t++) s.sum += scores[t] = std::exp(scores[t] - new_max);
    for (t = 0; t + 4 <= valid; t += 4) axpy4(s.acc, values + t * stride, stride, scores + t, D);
    for (; t < valid; t++) scale_add_f32(s.acc, 1.f, values + t * stride, scores[t], D);
    s.max = new_max;
  }
}

void finish_row(const RowState& s, float* out, int64_t D) {
  const float inv = s.sum > 0.f ? 1.f / s.sum : 0.f;
  for (int64_t i = 0; i < D; i++) out[i] = s.acc[i] * inv;
}

// Runs task(i) for i in [0, n) with dynamic scheduling, since causal tasks differ widely in cost.
template <typename F>
void dynamic_for(ThreadPool& pool, int64_t n, F&& task) {
  std::atomic<int64_t> next{0};
  pool.parallel_for(pool.size(), 1, [&](int64_t, int64_t) {
    for (int64_t i; (i = next.fetch_add(1)) < n;) task(i);
  });
}

thread_local std::vector<float> tl_scratch;

float* scratch(size_t floats) {
  if (tl_scratch.size() < floats) tl_scratch.resize(floats);
  return tl_scratch.data();
}

constexpr int64_t kQueryChunk = 16;

}  // namespace

void cpu_paged_decode(ThreadPool& pool, const TensorRef& out, const TensorRef& q, const TensorRef& k_cache,
                      const TensorRef& v_cache, const TensorRef& block_tables, const TensorRef& context_lens,
                      float scale) {
  const int64_t B = context_lens.numel();
  if (B == 0) return;
  const CacheGeometry g = geometry(k_cache, v_cache, block_tables);
  const int64_t D = g.head_dim, heads = q.numel() / B / D, group = heads / g.kv_heads;
  const int32_t* lens = context_lens.ptr<int32_t>();
  dynamic_for(pool, B * g.kv_heads, [&](int64_t task) {
    const int64_t b = task / g.kv_heads, kvh = task % g.kv_heads;
    float* buf = scratch(static_cast<size_t>(group * (D + 1) + g.block_size));
    std::vector<RowState> rows(group);
    std::vector<const float*> q_rows(group);
    std::vector<int64_t> limit(group, g.block_size);
    for (int64_t r = 0; r < group; r++) {
      rows[r].acc = buf + r * D;
      std::fill(rows[r].acc, rows[r].acc + D, 0.f);
      q_rows[r] = q.ptr<float>() + (b * heads + kvh * group + r) * D;
    }
    float* scores = buf + group * D;
    const int64_t ctx = lens[b];
    for (int64_t j = 0; j * g.block_size < ctx; j++) {
      const int64_t n = std::min(g.block_size, ctx - j * g.block_size);
      fold_block(g, g.tables[b * g.max_blocks + j], n, kvh, q_rows.data(), limit.data(), rows.data(), group, scale,
                 scores);
    }
    for (int64_t r = 0; r < group; r++) finish_row(rows[r], out.ptr<float>() + (b * heads + kvh * group + r) * D, D);
  });
}

void cpu_prefill_attention(ThreadPool& pool, const TensorRef& out, const TensorRef& q, const TensorRef& k_cache,
                           const TensorRef& v_cache, const TensorRef& cu_seqlens_q, const TensorRef& block_tables,
                           const TensorRef& context_lens, float scale) {
  const int64_t B = context_lens.numel(), Tq = q.dim(0);
  if (B == 0 || Tq == 0) return;
  const CacheGeometry g = geometry(k_cache, v_cache, block_tables);
  const int64_t D = g.head_dim, heads = q.numel() / Tq / D, group = heads / g.kv_heads;
  const int32_t* cu = cu_seqlens_q.ptr<int32_t>();
  const int32_t* lens = context_lens.ptr<int32_t>();
  // Task t covers one chunk of kQueryChunk queries of one sequence for one KV head.
  std::vector<int64_t> first_task(B + 1, 0);
  for (int64_t b = 0; b < B; b++) {
    const int64_t chunks = (cu[b + 1] - cu[b] + kQueryChunk - 1) / kQueryChunk;
    first_task[b + 1] = first_task[b] + chunks * g.kv_heads;
  }
  dynamic_for(pool, first_task[B], [&](int64_t task) {
    const int64_t b = std::upper_bound(first_task.begin(), first_task.end(), task) - first_task.begin() - 1;
    const int64_t local = task - first_task[b];
    const int64_t chunk = local / g.kv_heads, kvh = local % g.kv_heads;
    const int64_t q_len = cu[b + 1] - cu[b];
    const int64_t q_begin = chunk * kQueryChunk, q_end = std::min(q_len, q_begin + kQueryChunk);
    const int64_t first_pos = lens[b] - q_len;  // position of query 0 of this sequence
    const int64_t num_rows = (q_end - q_begin) * group;
    float* buf = scratch(static_cast<size_t>(num_rows * D + g.block_size));
    std::vector<RowState> rows(num_rows);
    std::vector<const float*> q_rows(num_rows);
    std::vector<int64_t> limit(num_rows);
    for (int64_t i = q_begin; i < q_end; i++) {
      for (int64_t r = 0; r < group; r++) {
        const int64_t row = (i - q_begin) * group + r;
        rows[row].acc = buf + row * D;
        std::fill(rows[row].acc, rows[row].acc + D, 0.f);
        q_rows[row] = q.ptr<float>() + ((cu[b] + i) * heads + kvh * group + r) * D;
      }
    }
    float* scores = buf + num_rows * D;
    const int64_t last_pos = first_pos + q_end - 1;
    for (int64_t j = 0; j * g.block_size <= last_pos; j++) {
      const int64_t start = j * g.block_size;
      const int64_t n = std::min(g.block_size, last_pos + 1 - start);
      for (int64_t i = q_begin; i < q_end; i++)
        for (int64_t r = 0; r < group; r++) limit[(i - q_begin) * group + r] = first_pos + i + 1 - start;
      fold_block(g, g.tables[b * g.max_blocks + j], n, kvh, q_rows.data(), limit.data(), rows.data(), num_rows,
                 scale, scores);
    }
    for (int64_t i = q_begin; i < q_end; i++)
      for (int64_t r = 0; r < group; r++)
        finish_row(rows[(i - q_begin) * group + r], out.ptr<float>() + ((cu[b] + i) * heads + kvh * group + r) * D, D);
  });
}

}  // namespace sluice
