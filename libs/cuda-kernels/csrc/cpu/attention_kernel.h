// Paged attention on CPU, written once over a vector type V (V::W lanes, vec8.h / vec16.h) and a cache element TC
// (f32, or bf16 widened exactly to f32), compiled per instruction set (attention.cc, attention_avx512.cc).
// Keys and values are gathered block by block through the block table and folded into a running (max, sum,
// weighted V) per query row, the online softmax, so no score matrix larger than one cache block per row exists.
// Decode and prefill fold a row through the same code, so a query gives the same bits through either op, and a
// row's result depends only on its own query, cache blocks and context length: never on its batch.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>

#include "cpu/cpu_backend.h"

namespace sluice {
namespace {  // instantiated with each file's own V (internal), so no copy built with other flags is shared

// e^x per lane, x <= 0 here (scores less their max): Cody-Waite reduction to r in [-ln2/2, ln2/2], a degree-7
// polynomial (relative error about 2 ulp), and the power of two built in the exponent bits. F is a GCC vector type.
template <class F>
inline F vexp(F x) {
  typedef int32_t I __attribute__((vector_size(sizeof(F))));
  const F zero = {};
  const F lo = zero - 87.0f, hi = zero + 88.0f;  // e^-87 is still a normal float; n stays <= 127
  x = x < lo ? lo : x;
  x = x > hi ? hi : x;
  const float magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer held in the low mantissa bits
  const F t = x * 1.44269504088896341f + magic;
  const F n = t - magic;
  const F r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  F p = r * 1.9875691500e-4f + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  const I bits = ((I)t - (I)(zero + magic) + 127) << 23;
  return p * (F)bits;
}

template <class V, class TC>
struct AttentionKernel {
  using vec = typename V::vec;
  // Keys per fold: the chain latency of one fold (scores, max, exp, sum) is paid once per kChunk keys. Chunks
  // start at multiples of kChunk positions, whatever the op or batch.
  static constexpr int64_t kChunk = 64;

  struct Cache {
    const TC* k;
    const TC* v;
    int64_t block_size, kv_heads, head_dim;
    const int32_t* tables;
    int64_t max_blocks;

    // Key (value) row `offset` of `block` for `head`; rows of one head are kv_heads * head_dim elements apart.
    const TC* key(int64_t block, int64_t offset, int64_t head) const {
      return k + ((block * block_size + offset) * kv_heads + head) * head_dim;
    }
    const TC* value(int64_t block, int64_t offset, int64_t head) const {
      return v + ((block * block_size + offset) * kv_heads + head) * head_dim;
    }
    // Key and value rows of positions [c0, c0 + n) for `head`, through the sequence's block table.
    void rows(const int32_t* table, int64_t c0, int64_t n, int64_t head, const TC** kp, const TC** vp) const {
      const int64_t stride = kv_heads * head_dim;
      int64_t j = c0 / block_size, offset = c0 % block_size;  // one division per chunk, not per key
      for (int64_t t = 0; t < n; j++, offset = 0) {
        const TC* kr = key(table[j], offset, head);
        const TC* vr = value(table[j], offset, head);
        for (; offset < block_size && t < n; offset++, t++, kr += stride, vr += stride) {
          kp[t] = kr;
          vp[t] = vr;
        }
      }
    }
  };

  static Cache cache(const TensorRef& k_cache, const TensorRef& v_cache, const TensorRef& block_tables) {
    return {static_cast<const TC*>(k_cache.data), static_cast<const TC*>(v_cache.data), k_cache.dim(1),
            k_cache.dim(2), k_cache.dim(3), block_tables.ptr<int32_t>(),
            block_tables.numel() == 0 ? 0 : block_tables.dim(1)};
  }

  // The running softmax state of one query row.
  struct RowState {
    float max = -std::numeric_limits<float>::infinity();
    float sum = 0.f;
    float* acc;  // [head_dim]
  };

  // A task's rows: softmax state, query, key limit, accumulator; and one chunk's probabilities. Plain arrays and
  // loops, no std::vector<float> or std algorithms: an instance shared with the baseline files could be linked in
  // from the AVX-512 file's copy.
  struct Scratch {
    int64_t row_cap = 0, acc_cap = 0;
    std::unique_ptr<RowState[]> rows;
    std::unique_ptr<const float*[]> q;
    std::unique_ptr<int64_t[]> limit;
    std::unique_ptr<float[]> acc;
    alignas(64) float p[kChunk];

    void start(int64_t r, const float* q_row, int64_t D) {
      rows[r] = RowState{};
      rows[r].acc = acc.get() + r * D;
      std::memset(rows[r].acc, 0, D * sizeof(float));
      q[r] = q_row;
    }
  };

  static Scratch& scratch(int64_t num_rows, int64_t D) {
    thread_local Scratch s;
    if (s.row_cap < num_rows) {
      s.rows.reset(new RowState[num_rows]);
      s.q.reset(new const float*[num_rows]);
      s.limit.reset(new int64_t[num_rows]);
      s.row_cap = num_rows;
    }
    if (s.acc_cap < num_rows * D) s.acc.reset(new float[(s.acc_cap = num_rows * D)]);
    return s;
  }

  // p[t] = scale · (q · key t) for t in [0, n), V::W keys at a time: per key one fma chain over head_dim in V::W
  // lanes (zero-filled tail), the W chains summed lane-wise by V::transpose_sum. Lanes past n get -inf (their key
  // pointer repeats the last key, unused). p holds n rounded up to V::W (kChunk is a multiple of every W).
  static void scores(const float* q, const TC* const* keys, int64_t n, int64_t D, float scale, float* p) {
    const int64_t full = D / V::W * V::W;
    const int tail = static_cast<int>(D - full);
    for (int64_t t = 0; t < n; t += V::W) {
      const TC* k[V::W];
      vec acc[V::W];
      for (int j = 0; j < V::W; j++) {
        k[j] = keys[std::min<int64_t>(t + j, n - 1)];
        acc[j] = V::zero();
      }
      for (int64_t d = 0; d < full; d += V::W) {
        const vec qv = V::load(q + d);
        for (int j = 0; j < V::W; j++) acc[j] = V::fma(qv, V::load(k[j] + d), acc[j]);
      }
      if (tail) {
        const vec qv = V::load_tail(q + full, tail);
        for (int j = 0; j < V::W; j++) acc[j] = V::fma(qv, V::load_tail(k[j] + full, tail), acc[j]);
      }
      vec s = V::transpose_sum(acc) * scale;
      s = lanes() < static_cast<float>(n - t) ? s : V::splat(-std::numeric_limits<float>::infinity());
      V::store(p + t, s);
    }
  }

  // 0, 1, ..., W - 1.
  static vec lanes() {
    vec v;
    for (int i = 0; i < V::W; i++) v[i] = static_cast<float>(i);
    return v;
  }

  // acc = acc · correction + Σ_t p[t] · value t, per V::W lanes of acc a chain over the keys in order; kSpan
  // vectors of acc at a time, so as many chains overlap.
  static constexpr int kSpan = 4;
  static void accumulate(float* acc, float correction, const TC* const* values, const float* p, int64_t n, int64_t D) {
    const vec c = V::splat(correction);
    int64_t d0 = 0;
    for (; d0 + kSpan * V::W <= D; d0 += kSpan * V::W) {
      vec a[kSpan];
      for (int i = 0; i < kSpan; i++) a[i] = V::load(acc + d0 + i * V::W) * c;
      for (int64_t t = 0; t < n; t++) {
        const vec pt = V::splat(p[t]);
        for (int i = 0; i < kSpan; i++) a[i] = V::fma(pt, V::load(values[t] + d0 + i * V::W), a[i]);
      }
      for (int i = 0; i < kSpan; i++) V::store(acc + d0 + i * V::W, a[i]);
    }
    for (; d0 < D; d0 += V::W) {  // the rest, a vector at a time, the last one partial
      const int w = static_cast<int>(std::min<int64_t>(V::W, D - d0));
      vec a = (w == V::W ? V::load(acc + d0) : V::load_tail(acc + d0, w)) * c;
      for (int64_t t = 0; t < n; t++) {
        a = V::fma(V::splat(p[t]), w == V::W ? V::load(values[t] + d0) : V::load_tail(values[t] + d0, w), a);
      }
      if (w == V::W) V::store(acc + d0, a);
      else V::store_tail(acc + d0, a, w);
    }
  }


  // Folds positions [c0, c0 + n) of a sequence (block table `table`) into query rows [r0, r0 + num_rows) of one
  // KV head; row r sees positions < c0 + limit[r].
  static void fold_chunk(const Cache& g, const int32_t* table, int64_t c0, int64_t n, int64_t kv_head,
                         Scratch& buf, int64_t r0, int64_t num_rows, float scale) {
    float* p = buf.p;
    const TC* keys[kChunk];
    const TC* values[kChunk];
    g.rows(table, c0, n, kv_head, keys, values);
    const int64_t D = g.head_dim;
    for (int64_t r = r0; r < r0 + num_rows; r++) {
      const int64_t valid = std::min(n, buf.limit[r]);
      if (valid <= 0) continue;
      scores(buf.q[r], keys, valid, D, scale, p);
      vec mv = V::load(p);
      for (int64_t t = V::W; t < valid; t += V::W) {
        const vec x = V::load(p + t);
        mv = x > mv ? x : mv;
      }
      RowState& s = buf.rows[r];
      const float new_max = std::max(s.max, V::hmax(mv));
      const vec m = V::splat(new_max);
      vec sum = V::zero();
      for (int64_t t = 0; t < valid; t += V::W) {
        vec e = vexp(V::load(p + t) - m);
        e = lanes() < static_cast<float>(valid - t) ? e : V::zero();
        V::store(p + t, e);
        sum += e;
      }
      const float correction = std::exp(s.max - new_max);
      s.sum = s.sum * correction + V::hsum(sum);
      accumulate(s.acc, correction, values, p, valid, D);
      s.max = new_max;
    }
  }

  static void finish_row(const RowState& s, float* out, int64_t D) {
    const float inv = s.sum > 0.f ? 1.f / s.sum : 0.f;
    for (int64_t i = 0; i < D; i++) out[i] = s.acc[i] * inv;
  }

  // Runs task(i) for i in [0, n) with dynamic scheduling, since tasks differ widely in cost.
  template <typename F>
  static void dynamic_for(ThreadPool& pool, int64_t n, F&& task) {
    std::atomic<int64_t> next{0};
    pool.parallel_for(pool.size(), 1, [&](int64_t, int64_t) {
      for (int64_t i; (i = next.fetch_add(1)) < n;) task(i);
    });
  }


  // One task per (sequence, KV head): the head's query rows (its GQA group) fold the sequence's blocks in order.
  static void decode(ThreadPool& pool, const TensorRef& out, const TensorRef& q, const TensorRef& k_cache,
                     const TensorRef& v_cache, const TensorRef& block_tables, const TensorRef& context_lens,
                     float scale) {
    const int64_t B = context_lens.numel();
    if (B == 0) return;
    const Cache g = cache(k_cache, v_cache, block_tables);
    const int64_t D = g.head_dim, heads = q.numel() / B / D, group = heads / g.kv_heads;
    const int32_t* lens = context_lens.ptr<int32_t>();
    // A task folds `span` KV heads of one sequence chunk by chunk, so it reads whole cache rows, not a head's
    // slice of each; with few sequences, a head per task keeps every thread busy.
    const int64_t span = B >= 2 * static_cast<int64_t>(pool.size()) ? g.kv_heads : 1;
    dynamic_for(pool, B * (g.kv_heads / span), [&](int64_t task) {
      const int64_t b = task / (g.kv_heads / span), h0 = task % (g.kv_heads / span) * span;
      Scratch& buf = scratch(span * group, D);
      const float* qb = q.ptr<float>() + (b * heads + h0 * group) * D;
      for (int64_t r = 0; r < span * group; r++) {
        buf.start(r, qb + r * D, D);
        buf.limit[r] = kChunk;
      }
      const int64_t ctx = lens[b];
      const int32_t* table = g.tables + b * g.max_blocks;
      for (int64_t c0 = 0; c0 < ctx; c0 += kChunk) {
        const int64_t n = std::min(kChunk, ctx - c0);
        for (int64_t h = 0; h < span; h++)
          fold_chunk(g, table, c0, n, h0 + h, buf, h * group, group, scale);
      }
      float* ob = out.ptr<float>() + (b * heads + h0 * group) * D;
      for (int64_t r = 0; r < span * group; r++) finish_row(buf.rows[r], ob + r * D, D);
    });
  }

  static constexpr int64_t kQueryChunk = 16;

  static void prefill(ThreadPool& pool, const TensorRef& out, const TensorRef& q, const TensorRef& k_cache,
                      const TensorRef& v_cache, const TensorRef& cu_seqlens_q, const TensorRef& block_tables,
                      const TensorRef& context_lens, float scale) {
    const int64_t B = context_lens.numel(), Tq = q.dim(0);
    if (B == 0 || Tq == 0) return;
    const Cache g = cache(k_cache, v_cache, block_tables);
    const int64_t D = g.head_dim, heads = q.numel() / Tq / D, group = heads / g.kv_heads;
    const int32_t* cu = cu_seqlens_q.ptr<int32_t>();
    const int32_t* lens = context_lens.ptr<int32_t>();
    // Task t covers one chunk of kQueryChunk queries of one sequence for one KV head.
    std::unique_ptr<int64_t[]> first_task(new int64_t[B + 1]);
    first_task[0] = 0;
    for (int64_t b = 0; b < B; b++) {
      const int64_t chunks = (cu[b + 1] - cu[b] + kQueryChunk - 1) / kQueryChunk;
      first_task[b + 1] = first_task[b] + chunks * g.kv_heads;
    }
    dynamic_for(pool, first_task[B], [&](int64_t task) {
      int64_t b = 0;
      while (first_task[b + 1] <= task) b++;
      const int64_t local = task - first_task[b];
      const int64_t chunk = local / g.kv_heads, kvh = local % g.kv_heads;
      const int64_t q_len = cu[b + 1] - cu[b];
      const int64_t q_begin = chunk * kQueryChunk, q_end = std::min(q_len, q_begin + kQueryChunk);
      const int64_t first_pos = lens[b] - q_len;  // position of query 0 of this sequence
      const int64_t num_rows = (q_end - q_begin) * group;
      Scratch& buf = scratch(num_rows, D);
      for (int64_t i = q_begin; i < q_end; i++)
        for (int64_t r = 0; r < group; r++)
          buf.start((i - q_begin) * group + r, q.ptr<float>() + ((cu[b] + i) * heads + kvh * group + r) * D, D);
      const int64_t keys = first_pos + q_end;  // the last query's causal span
      const int32_t* table = g.tables + b * g.max_blocks;
      for (int64_t c0 = 0; c0 < keys; c0 += kChunk) {
        const int64_t n = std::min(kChunk, keys - c0);
        for (int64_t i = q_begin; i < q_end; i++)
          for (int64_t r = 0; r < group; r++) buf.limit[(i - q_begin) * group + r] = first_pos + i + 1 - c0;
        fold_chunk(g, table, c0, n, kvh, buf, 0, num_rows, scale);
      }
      for (int64_t i = q_begin; i < q_end; i++)
        for (int64_t r = 0; r < group; r++)
          finish_row(buf.rows[(i - q_begin) * group + r], out.ptr<float>() + ((cu[b] + i) * heads + kvh * group + r) * D,
                     D);
    });
  }
};

}  // namespace
}  // namespace sluice
