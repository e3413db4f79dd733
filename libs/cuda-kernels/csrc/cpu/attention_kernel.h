// Paged attention on CPU, written once over a vector type V (V::W lanes, vec8.h / vec16.h) and a cache element TC
// (f32, or bf16 widened exactly to f32), compiled per instruction set (attention.cc, attention_avx512.cc).
// Keys and values are gathered block by block through the block table and folded into a running (max, sum,
// weighted V) per query row, the online softmax, so no score matrix larger than one cache block per row exists.
// The query rows of a GQA group fold together over one load of each key and value (kPack rows at a time), and
// the next chunk's rows are prefetched while one is folded: decode streams the cache, it does not wait on it.
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
#include "cpu/vexp.h"

namespace sluice {
namespace {  // instantiated with each file's own V (internal), so no copy built with other flags is shared

template <class V, class TC>
struct AttentionKernel {
  using vec = typename V::vec;
  // Keys per fold: the chain latency of one fold (scores, max, exp, sum) is paid once per kChunk keys. Chunks
  // start at multiples of kChunk positions, whatever the op or batch.
  static constexpr int64_t kChunk = 64;
  // Query rows folded together over one load of each key and value: a GQA group's rows share their KV head.
  static constexpr int kPack = 4;

  // The key and value rows of one chunk of positions for one KV head.
  struct Chunk {
    const TC* keys[kChunk];
    const TC* values[kChunk];
    int64_t n;
  };

  // Asks for the cache lines of a row (head_dim elements) to be loaded ahead of use.
  static void prefetch(const TC* row, int64_t D) {
    const char* b = reinterpret_cast<const char*>(row);
    for (int64_t o = 0; o < D * static_cast<int64_t>(sizeof(TC)); o += 64) __builtin_prefetch(b + o);
  }

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
    void rows(const int32_t* table, int64_t c0, int64_t n, int64_t head, Chunk& out) const {
      const int64_t stride = kv_heads * head_dim;
      out.n = n;
      int64_t j = c0 / block_size, offset = c0 % block_size;  // one division per chunk, not per key
      for (int64_t t = 0; t < n; j++, offset = 0) {
        const TC* kr = key(table[j], offset, head);
        const TC* vr = value(table[j], offset, head);
        for (; offset < block_size && t < n; offset++, t++, kr += stride, vr += stride) {
          out.keys[t] = kr;
          out.values[t] = vr;
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
    alignas(64) float p[kPack][kChunk];
    Chunk chunks[2];

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

  // p[r][t] = scale · (q[r] · key t) for R rows and t in [0, n), V::W keys at a time: per key and row one fma
  // chain over head_dim in V::W lanes (zero-filled tail), each key vector loaded once for all R rows; the W chains
  // of a row are summed lane-wise by V's staged transpose sum (sum2, sum4, finish) as each 4 keys end. Lanes past
  // n get -inf (their key pointer repeats the last key, unused). p rows hold n rounded up to V::W. Key rows of
  // `ahead` (the next chunk folded, or null) are prefetched along, one per key here.
  template <int R>
  static void scores(const float* const* q, const TC* const* keys, int64_t n, int64_t D, float scale,
                     float (*p)[kChunk], const Chunk* ahead) {
    const int64_t full = D / V::W * V::W;
    const int tail = static_cast<int>(D - full);
    for (int64_t t = 0; t < n; t += V::W) {
      vec c[R][V::W / 4];
      for (int j0 = 0; j0 < V::W; j0 += 4) {
        const TC* k[4];
        vec acc[R][4];
        for (int j = 0; j < 4; j++) {
          k[j] = keys[std::min<int64_t>(t + j0 + j, n - 1)];
          for (int r = 0; r < R; r++) acc[r][j] = V::zero();
          if (ahead && t + j0 + j < ahead->n) prefetch(ahead->keys[t + j0 + j], D);
        }
        for (int64_t d = 0; d < full; d += V::W) {
          for (int j = 0; j < 4; j++) {
            const vec kv = V::load(k[j] + d);
            for (int r = 0; r < R; r++) acc[r][j] = V::fma(V::load(q[r] + d), kv, acc[r][j]);
          }
        }
        if (tail) {
          for (int j = 0; j < 4; j++) {
            const vec kv = V::load_tail(k[j] + full, tail);
            for (int r = 0; r < R; r++) acc[r][j] = V::fma(V::load_tail(q[r] + full, tail), kv, acc[r][j]);
          }
        }
        for (int r = 0; r < R; r++)
          c[r][j0 / 4] = V::sum4(V::sum2(acc[r][0], acc[r][1]), V::sum2(acc[r][2], acc[r][3]));
      }
      const auto live = lanes() < static_cast<float>(n - t);
      for (int r = 0; r < R; r++) {
        const vec s = V::finish(c[r]) * scale;
        V::store(p[r] + t, live ? s : V::splat(-std::numeric_limits<float>::infinity()));
      }
    }
    if (ahead)
      for (int64_t t = (n + V::W - 1) / V::W * V::W; t < ahead->n; t++) prefetch(ahead->keys[t], D);
  }

  // 0, 1, ..., W - 1.
  static vec lanes() {
    vec v;
    for (int i = 0; i < V::W; i++) v[i] = static_cast<float>(i);
    return v;
  }

  // The online-softmax step of R rows over one chunk's scores p (n valid): the new running max, p turned into
  // e^(p - max) (0 past n), the sum rescaled and grown; returns each row's correction of its old accumulator.
  // The rows' max, exp and sum chains are independent and interleaved.
  template <int R>
  static void softmax(RowState* const* s, float (*p)[kChunk], int64_t n, float* correction) {
    vec mv[R], m[R], sum[R];
    for (int r = 0; r < R; r++) mv[r] = V::load(p[r]);
    for (int64_t t = V::W; t < n; t += V::W) {
      for (int r = 0; r < R; r++) {
        const vec x = V::load(p[r] + t);
        mv[r] = x > mv[r] ? x : mv[r];
      }
    }
    float new_max[R];
    for (int r = 0; r < R; r++) {
      new_max[r] = std::max(s[r]->max, V::hmax(mv[r]));
      m[r] = V::splat(new_max[r]);
      sum[r] = V::zero();
    }
    for (int64_t t = 0; t < n; t += V::W) {
      const auto live = lanes() < static_cast<float>(n - t);
      for (int r = 0; r < R; r++) {
        vec e = vexp(V::load(p[r] + t) - m[r]);
        e = live ? e : V::zero();
        V::store(p[r] + t, e);
        sum[r] += e;
      }
    }
    for (int r = 0; r < R; r++) {
      correction[r] = std::exp(s[r]->max - new_max[r]);
      s[r]->sum = s[r]->sum * correction[r] + V::hsum(sum[r]);
      s[r]->max = new_max[r];
    }
  }

  // acc[r] = acc[r] · correction[r] + Σ_t p[r][t] · value t for R rows, per V::W lanes of an accumulator a chain
  // over the keys in order; each value vector is loaded once for all R rows, and S vectors of each accumulator are
  // carried at a time (R · S chains overlap, within the register file). Value rows of `ahead` (or null) are
  // prefetched along, one per key here.
  template <int R>
  static void accumulate(RowState* const* s, const float* correction, const TC* const* values, float (*p)[kChunk],
                         int64_t n, int64_t D, const Chunk* ahead) {
    constexpr int S = V::W == 16 ? 4 : (R <= 2 ? 4 : 2);
    int64_t d0 = 0;
    for (; d0 + S * V::W <= D; d0 += S * V::W) {
      vec a[R][S];
      for (int r = 0; r < R; r++) {
        const vec c = V::splat(correction[r]);
        for (int i = 0; i < S; i++) a[r][i] = V::load(s[r]->acc + d0 + i * V::W) * c;
      }
      for (int64_t t = 0; t < n; t++) {
        if (ahead && d0 == 0 && t < ahead->n) prefetch(ahead->values[t], D);
        vec v[S];
        for (int i = 0; i < S; i++) v[i] = V::load(values[t] + d0 + i * V::W);
        for (int r = 0; r < R; r++) {
          const vec pt = V::splat(p[r][t]);
          for (int i = 0; i < S; i++) a[r][i] = V::fma(pt, v[i], a[r][i]);
        }
      }
      for (int r = 0; r < R; r++)
        for (int i = 0; i < S; i++) V::store(s[r]->acc + d0 + i * V::W, a[r][i]);
    }
    for (; d0 < D; d0 += V::W) {  // the rest, a vector at a time, the last one partial
      const int w = static_cast<int>(std::min<int64_t>(V::W, D - d0));
      vec a[R];
      for (int r = 0; r < R; r++) {
        const vec acc = w == V::W ? V::load(s[r]->acc + d0) : V::load_tail(s[r]->acc + d0, w);
        a[r] = acc * V::splat(correction[r]);
      }
      for (int64_t t = 0; t < n; t++) {
        if (ahead && d0 == 0 && t < ahead->n) prefetch(ahead->values[t], D);
        const vec v = w == V::W ? V::load(values[t] + d0) : V::load_tail(values[t] + d0, w);
        for (int r = 0; r < R; r++) a[r] = V::fma(V::splat(p[r][t]), v, a[r]);
      }
      for (int r = 0; r < R; r++) {
        if (w == V::W) V::store(s[r]->acc + d0, a[r]);
        else V::store_tail(s[r]->acc + d0, a[r], w);
      }
    }
    if (ahead)
      for (int64_t t = n; t < ahead->n; t++) prefetch(ahead->values[t], D);
  }

  // Folds a chunk's first n keys and values into R rows starting at row r0; prefetches `ahead` (or null).
  template <int R>
  static void fold_pack(Scratch& buf, int64_t r0, const Chunk& c, int64_t n, int64_t D, float scale,
                        const Chunk* ahead) {
    const float* q[R];
    RowState* s[R];
    for (int r = 0; r < R; r++) {
      q[r] = buf.q[r0 + r];
      s[r] = &buf.rows[r0 + r];
    }
    float correction[R];
    scores<R>(q, c.keys, n, D, scale, buf.p, ahead);
    softmax<R>(s, buf.p, n, correction);
    accumulate<R>(s, correction, c.values, buf.p, n, D, ahead);
  }

  // Folds chunk c (the rows of positions [c0, c0 + c.n) for one KV head) into query rows [r0, r0 + num_rows),
  // `group` rows at a time sharing a key limit: the rows of a group see positions < c0 + limit[its first row].
  // A group's rows are folded kPack at a time over one pass of the chunk's keys and values; the first such pass
  // prefetches `ahead`, the chunk folded next (or null).
  static void fold_chunk(const Chunk& c, int64_t D, Scratch& buf, int64_t r0, int64_t num_rows, int64_t group,
                         float scale, const Chunk* ahead) {
    for (int64_t g0 = r0; g0 < r0 + num_rows; g0 += group) {
      const int64_t valid = std::min(c.n, buf.limit[g0]);
      if (valid <= 0) continue;
      for (int64_t r = g0; r < g0 + group; ahead = nullptr) {
        switch (std::min<int64_t>(kPack, g0 + group - r)) {
          case 1: fold_pack<1>(buf, r, c, valid, D, scale, ahead); r += 1; break;
          case 2: fold_pack<2>(buf, r, c, valid, D, scale, ahead); r += 2; break;
          case 3: fold_pack<3>(buf, r, c, valid, D, scale, ahead); r += 3; break;
          default: fold_pack<4>(buf, r, c, valid, D, scale, ahead); r += 4; break;
        }
      }
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
      // Units (chunk, head) in order, each one's rows gathered a unit ahead so its lines are prefetched.
      const int64_t units = (ctx + kChunk - 1) / kChunk * span;
      auto gather = [&](int64_t u, Chunk& c) {
        const int64_t c0 = u / span * kChunk;
        g.rows(table, c0, std::min(kChunk, ctx - c0), h0 + u % span, c);
      };
      Chunk* cur = &buf.chunks[0];
      Chunk* next = &buf.chunks[1];
      if (units > 0) gather(0, *cur);
      for (int64_t u = 0; u < units; u++) {
        if (u + 1 < units) gather(u + 1, *next);
        const int64_t h = u % span;
        fold_chunk(*cur, D, buf, h * group, group, group, scale, u + 1 < units ? next : nullptr);
        std::swap(cur, next);
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
      Chunk& c = buf.chunks[0];
      for (int64_t c0 = 0; c0 < keys; c0 += kChunk) {
        g.rows(table, c0, std::min(kChunk, keys - c0), kvh, c);
        for (int64_t i = q_begin; i < q_end; i++)
          for (int64_t r = 0; r < group; r++) buf.limit[(i - q_begin) * group + r] = first_pos + i + 1 - c0;
        fold_chunk(c, D, buf, 0, num_rows, group, scale, nullptr);
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
