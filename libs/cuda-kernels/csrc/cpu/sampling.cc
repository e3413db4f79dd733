// Sampling and log-prob ops on CPU. A row's draw uses philox_uniform(seed, step) only, so the token a row
// gets never depends on which other rows share its batch.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

#include "cpu/cpu_backend.h"
#include "philox.h"

namespace sluice {
namespace {

int64_t index_at(const TensorRef& t, int64_t i) {
  return t.dtype == DType::I64 ? t.ptr<int64_t>()[i] : static_cast<int64_t>(t.ptr<int32_t>()[i]);
}

// Largest value, lowest index on ties.
int64_t row_argmax(const float* x, int64_t V) {
  int64_t best = 0;
  for (int64_t i = 1; i < V; i++)
    if (x[i] > x[best]) best = i;
  return best;
}

double row_logsumexp(const float* x, int64_t V) {
  const double m = x[row_argmax(x, V)];
  double s = 0;
  for (int64_t i = 0; i < V; i++) s += std::exp(static_cast<double>(x[i]) - m);
  return m + std::log(s);
}

// Orders candidates by logit descending, then token id ascending, so ties resolve the same way everywhere.
struct Candidate {
  float logit;
  int32_t id;
  bool operator<(const Candidate& o) const { return logit > o.logit || (logit == o.logit && id < o.id); }
};

// Penalties as defined in src/api.ts: repetition over prompt and output tokens (divide positive logits,
// multiply negative ones), then presence and frequency over output tokens.
void apply_penalties(std::vector<float>& x, const SamplingRefs& p, int64_t b, std::vector<int32_t>& counts) {
  const float rep = p.repetition_penalty.ptr<float>()[b];
  const float presence = p.presence_penalty.ptr<float>()[b];
  const float frequency = p.frequency_penalty.ptr<float>()[b];
  const int64_t o0 = index_at(p.output_offsets, b), o1 = index_at(p.output_offsets, b + 1);
  const int64_t p0 = index_at(p.prompt_offsets, b), p1 = index_at(p.prompt_offsets, b + 1);
  if (rep != 1.f) {
    std::vector<int32_t> seen;
    auto mark = [&](int64_t tok) {
      if (counts[tok] == 0) seen.push_back(static_cast<int32_t>(tok));
      counts[tok] = 1;
    };
    for (int64_t i = p0; i < p1; i++) mark(index_at(p.prompt_tokens, i));
    for (int64_t i = o0; i < o1; i++) mark(index_at(p.output_tokens, i));
    for (int32_t tok : seen) {
      x[tok] = x[tok] > 0 ? x[tok] / rep : x[tok] * rep;
      counts[tok] = 0;
    }
  }
  if (presence != 0.f || frequency != 0.f) {
    for (int64_t i = o0; i < o1; i++) counts[index_at(p.output_tokens, i)]++;
    for (int64_t i = o0; i < o1; i++) {
      const int64_t tok = index_at(p.output_tokens, i);
      if (counts[tok] == 0) continue;  // already applied for an earlier occurrence
      x[tok] -= presence + frequency * static_cast<float>(counts[tok]);
      counts[tok] = 0;
    }
  }
}

// Sorts the leading candidates until they hold `mass` of the total probability (or all are sorted);
// returns how many lead in sorted order.
int64_t sort_until_mass(std::vector<Candidate>& c, float max_logit, double total, double mass) {
  int64_t sorted = 0;
  for (int64_t want = 256;; want *= 4) {
    const int64_t n = std::min<int64_t>(want, static_cast<int64_t>(c.size()));
    std::partial_sort(c.begin() + sorted, c.begin() + n, c.end());
    sorted = n;
    if (n == static_cast<int64_t>(c.size())) return n;
    double cum = 0;
    for (int64_t i = 0; i < n; i++) cum += std::exp(static_cast<double>(c[i].logit) - max_logit);
    if (cum >= mass * total) return n;
  }
}

int32_t sample_row(const float* logits, int64_t V, const SamplingRefs& p, int64_t b, std::vector<float>& x,
                   std::vector<int32_t>& counts, std::vector<Candidate>& cand) {
  x.assign(logits, logits + V);
  apply_penalties(x, p, b, counts);
  const float temperature = p.temperature.ptr<float>()[b];
  if (!(temperature > 0.f)) return static_cast<int32_t>(row_argmax(x.data(), V));

  cand.resize(V);
  for (int64_t i = 0; i < V; i++) cand[i] = {x[i] / temperature, static_cast<int32_t>(i)};
  int64_t kept = V;
  bool sorted = false;
  const int32_t top_k = p.top_k.ptr<int32_t>()[b];
  if (top_k > 0 && top_k < V) {
    std::partial_sort(cand.begin(), cand.begin() + top_k, cand.end());
    kept = top_k;
    sorted = true;
  }
  float max_logit = cand[0].logit;
  if (!sorted)
    for (int64_t i = 1; i < kept; i++) max_logit = std::max(max_logit, cand[i].logit);
  double total = 0;
  for (int64_t i = 0; i < kept; i++) total += std::exp(static_cast<double>(cand[i].logit) - max_logit);

  const float top_p = p.top_p.ptr<float>()[b];
  if (top_p < 1.f) {
    if (!sorted) {
      cand.resize(kept);
      sort_until_mass(cand, max_logit, total, top_p);
      sorted = true;
    }
    // The smallest prefix whose probability reaches top_p (at least one token).
    double cum = 0;
    int64_t n = 0;
    while (n < kept) {
      cum += std::exp(static_cast<double>(cand[n].logit) - max_logit);
      n++;
      if (cum >= top_p * total) break;
    }
    kept = n;
    total = cum;
  }

  const float min_p = p.min_p.ptr<float>()[b];
  if (min_p > 0.f) {
    // Keep tokens whose probability is at least min_p times the largest: p_i / p_max = exp(l_i - l_max).
    const double threshold = std::log(static_cast<double>(min_p));
    int64_t n = 0;
    total = 0;
    for (int64_t i = 0; i < kept; i++) {
      if (static_cast<double>(cand[i].logit) - max_logit >= threshold) {
        cand[n++] = cand[i];
        total += std::exp(static_cast<double>(cand[i].logit) - max_logit);
      }
    }
    kept = n;
  }

  // Inverse CDF over the kept candidates in their current order.
  const double u = philox_uniform(static_cast<uint64_t>(index_at(p.seeds, b)), static_cast<uint64_t>(index_at(p.steps, b)));
  const double target = u * total;
  double cum = 0;
  for (int64_t i = 0; i < kept; i++) {
    cum += std::exp(static_cast<double>(cand[i].logit) - max_logit);
    if (cum > target) return cand[i].id;
  }
  return cand[kept - 1].id;
}

}  // namespace

void cpu_sample(ThreadPool& pool, const TensorRef& out, const TensorRef& logits, const SamplingRefs& params) {
  const int64_t B = out.numel();
  if (B == 0) return;
  const int64_t V = logits.dim(1);
  pool.parallel_for(B, 1, [&](int64_t b0, int64_t b1) {
    std::vector<float> x;
    std::vector<int32_t> counts(V, 0);
    std::vector<Candidate> cand;
    for (int64_t b = b0; b < b1; b++)
      out.ptr<int32_t>()[b] = sample_row(logits.ptr<float>() + b * V, V, params, b, x, counts, cand);
  });
}

void cpu_log_softmax_topk(ThreadPool& pool, const TensorRef& values, const TensorRef& indices,
                          const TensorRef& logits, int k) {
  const int64_t B = logits.dim(0), V = logits.dim(1);
  pool.parallel_for(B, 1, [&](int64_t b0, int64_t b1) {
    std::vector<Candidate> cand(V);
    for (int64_t b = b0; b < b1; b++) {
      const float* x = logits.ptr<float>() + b * V;
      const double lse = row_logsumexp(x, V);
      for (int64_t i = 0; i < V; i++) cand[i] = {x[i], static_cast<int32_t>(i)};
      std::partial_sort(cand.begin(), cand.begin() + k, cand.end());
      for (int i = 0; i < k; i++) {
        values.ptr<float>()[b * k + i] = static_cast<float>(cand[i].logit - lse);
        indices.ptr<int32_t>()[b * k + i] = cand[i].id;
      }
    }
  });
}

void cpu_gather_logprobs(ThreadPool& pool, const TensorRef& out, const TensorRef& logits, const TensorRef& tokens) {
  const int64_t B = out.numel();
  if (B == 0) return;
  const int64_t V = logits.dim(1);
  pool.parallel_for(B, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; b++) {
      const float* x = logits.ptr<float>() + b * V;
      out.ptr<float>()[b] = static_cast<float>(x[index_at(tokens, b)] - row_logsumexp(x, V));
    }
  });
}

void cpu_argmax(ThreadPool& pool, const TensorRef& out, const TensorRef& logits) {
  const int64_t B = out.numel();
  if (B == 0) return;
  const int64_t V = logits.dim(1);
  pool.parallel_for(B, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; b++) out.ptr<int32_t>()[b] = static_cast<int32_t>(row_argmax(logits.ptr<float>() + b * V, V));
  });
}

void cpu_apply_token_bitmask(ThreadPool& pool, const TensorRef& logits, const TensorRef& bitmask) {
  const int64_t B = logits.dim(0), V = logits.dim(1), W = bitmask.dim(1);
  if (B == 0) return;
  pool.parallel_for(B, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; b++) {
      float* x = logits.ptr<float>() + b * V;
      const uint32_t* m = reinterpret_cast<const uint32_t*>(bitmask.ptr<int32_t>()) + b * W;
      for (int64_t v = 0; v < V; v++)
        if (!((m[v >> 5] >> (v & 31)) & 1u)) x[v] = -std::numeric_limits<float>::infinity();
    }
  });
}

}  // namespace sluice
