// Row-wise ops on logits: argmax, gather of log-probabilities, log-softmax top-k, and seeded sampling with
// penalties, temperature, top-k, top-p and min-p. One thread block per row. Thresholds for top-k and top-p are
// found by radix selection on order-preserving integer keys, with integer (fixed-point) masses for top-p, so a
// row's result never depends on the order in which threads run: same inputs and seed, same token.
#include <algorithm>
#include <cstdint>

#include "check.h"
#include "common.cuh"
#include "kernels.h"
#include "philox.h"

namespace sluice {
namespace cuda {
namespace {

constexpr int kThreads = 1024;
constexpr int kMaxTopK = 1024;        // log_softmax_topk's k bound (candidates are ranked in shared memory)
constexpr int kSampleRowChunk = 64;   // rows per sampling launch, bounding the f32/i32 [rows, V] workspaces
constexpr int kPromptFlag = 1 << 30;  // in the per-token counts: token occurs in the prompt
constexpr double kMassScale = 1099511627776.0;  // 2^40: fixed-point unit of probability mass for top-p

// Larger float, larger key (total order for non-NaN values).
__device__ __forceinline__ uint32_t order_key(float f) {
  const uint32_t u = __float_as_uint(f);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

struct Scratch {
  float f[33];
  uint64_t hist[256];
  uint64_t select[2];
  float scan[33];
  int count;
};

// The largest key threshold t such that the weights of the included elements with key >= t add up to at least
// `target` (or, when frac > 0, to at least frac of all included weight). With unit weights and target k this is
// the k-th largest key. `item(i, key, weight)` returns false for excluded elements.
template <typename Item>
__device__ uint32_t radix_select(const Item& item, int n, uint64_t target, double frac, Scratch& sh) {
  uint32_t prefix = 0, mask = 0;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int i = threadIdx.x; i < 256; i += blockDim.x) sh.hist[i] = 0;
    __syncthreads();
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
      uint32_t key;
      uint64_t w;
      if (item(i, key, w) && (key & mask) == prefix) atomicAdd(reinterpret_cast<unsigned long long*>(&sh.hist[(key >> shift) & 255u]), static_cast<unsigned long long>(w));
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      if (shift == 24 && frac > 0.0) {
        uint64_t total = 0;
        for (int b = 0; b < 256; b++) total += sh.hist[b];
        target = static_cast<uint64_t>(ceil(frac * static_cast<double>(total)));
      }
      target = target < 1 ? 1 : target;
      uint64_t cum = 0;
      sh.select[0] = 0;
      sh.select[1] = target;
      for (int b = 255; b >= 0; b--) {
        if (cum + sh.hist[b] >= target) {
          sh.select[0] = static_cast<uint64_t>(b);
          sh.select[1] = target - cum;
          break;
        }
        cum += sh.hist[b];
      }
    }
    __syncthreads();
    prefix |= static_cast<uint32_t>(sh.select[0]) << shift;
    mask |= 255u << shift;
    target = sh.select[1];
  }
  return prefix;
}

// Max of (value, -index) pairs: the largest value, lowest index on ties. Every thread gets the index.
__device__ int block_argmax(float v, int idx, Scratch& sh) {
  __shared__ float vals[32];
  __shared__ int idxs[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, v, o);
    const int oi = __shfl_xor_sync(0xffffffffu, idx, o);
    if (ov > v || (ov == v && oi < idx)) {
      v = ov;
      idx = oi;
    }
  }
  __syncthreads();
  if (lane == 0) {
    vals[warp] = v;
    idxs[warp] = idx;
  }
  __syncthreads();
  if (warp == 0) {
    v = lane < nwarps ? vals[lane] : -INFINITY;
    idx = lane < nwarps ? idxs[lane] : 0x7fffffff;
    for (int o = 16; o > 0; o >>= 1) {
      const float ov = __shfl_xor_sync(0xffffffffu, v, o);
      const int oi = __shfl_xor_sync(0xffffffffu, idx, o);
      if (ov > v || (ov == v && oi < idx)) {
        v = ov;
        idx = oi;
      }
    }
    if (lane == 0) sh.count = idx;
  }
  __syncthreads();
  return sh.count;
}

// Exclusive prefix sum over threads in thread order (deterministic); also returns the block total.
__device__ float block_exclusive_scan(float v, float& total, Scratch& sh) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  float inc = v;
  for (int o = 1; o < 32; o <<= 1) {
    const float y = __shfl_up_sync(0xffffffffu, inc, o);
    if (lane >= o) inc += y;
  }
  __syncthreads();
  if (lane == 31) sh.scan[warp] = inc;
  __syncthreads();
  if (warp == 0) {
    float w = lane < nwarps ? sh.scan[lane] : 0.f;
    for (int o = 1; o < 32; o <<= 1) {
      const float y = __shfl_up_sync(0xffffffffu, w, o);
      if (lane >= o) w += y;
    }
    if (lane < nwarps) sh.scan[lane] = w;  // inclusive totals of warps
  }
  __syncthreads();
  total = sh.scan[nwarps - 1];
  const float before = warp > 0 ? sh.scan[warp - 1] : 0.f;
  return before + inc - v;
}

template <typename T>
__global__ void __launch_bounds__(kThreads) argmax_kernel(int32_t* out, const T* logits, int V) {
  __shared__ Scratch sh;
  const T* x = logits + static_cast<int64_t>(blockIdx.x) * V;
  float best = -INFINITY;
  int idx = 0x7fffffff;
  for (int i = threadIdx.x; i < V; i += blockDim.x) {
    const float v = to_float(x[i]);
    if (v > best || idx == 0x7fffffff) {
      best = v;
      idx = i;
    }
  }
  const int r = block_argmax(best, idx, sh);
  if (threadIdx.x == 0) out[blockIdx.x] = r;
}

// Natural-log normaliser of a row: max + log(sum exp(x - max)).
template <typename T> __device__ float row_logsumexp(const T* x, int V, Scratch& sh) {
  float m = -INFINITY;
  for (int i = threadIdx.x; i < V; i += blockDim.x) m = fmaxf(m, to_float(x[i]));
  m = block_max(m, sh.f);
  float s = 0.f;
  for (int i = threadIdx.x; i < V; i += blockDim.x) s += expf(to_float(x[i]) - m);
  s = block_sum(s, sh.f);
  return m + logf(s);
}

template <typename T, typename I>
__global__ void __launch_bounds__(kThreads) gather_logprobs_kernel(float* out, const T* logits, const I* tokens, int V,
                                                                  IndexFault* fault) {
  __shared__ Scratch sh;
  const T* x = logits + static_cast<int64_t>(blockIdx.x) * V;
  const float lse = row_logsumexp(x, V, sh);
  const int64_t tok = load_index(tokens, blockIdx.x);
  if (threadIdx.x != 0) return;
  out[blockIdx.x] = index_ok(fault, kArgTokens, blockIdx.x, tok, 0, V) ? to_float(x[tok]) - lse : NAN;
}

template <typename T>
__global__ void __launch_bounds__(kThreads) log_softmax_topk_kernel(float* values, int32_t* indices, const T* logits,
                                                                   int V, int k) {
  __shared__ Scratch sh;
  __shared__ float cand_val[kMaxTopK];
  __shared__ int cand_idx[kMaxTopK];
  const T* x = logits + static_cast<int64_t>(blockIdx.x) * V;
  const float lse = row_logsumexp(x, V, sh);
  auto item = [&](int i, uint32_t& key, uint64_t& w) {
    key = order_key(to_float(x[i]));
    w = 1;
    return true;
  };
  const uint32_t kth = radix_select(item, V, static_cast<uint64_t>(k), 0.0, sh);

  // Strictly above the threshold: fewer than k, any order (they are ranked below).
  if (threadIdx.x == 0) sh.count = 0;
  __syncthreads();
  for (int i = threadIdx.x; i < V; i += blockDim.x) {
    const float v = to_float(x[i]);
    if (order_key(v) > kth) {
      const int slot = atomicAdd(&sh.count, 1);
      cand_val[slot] = v;
      cand_idx[slot] = i;
    }
  }
  __syncthreads();
  const int above = sh.count;
  // Ties at the threshold fill the remaining places, lowest indices first: each thread scans a contiguous chunk.
  const int chunk = (V + blockDim.x - 1) / blockDim.x;
  const int lo = threadIdx.x * chunk, hi = min(V, lo + chunk);
  int ties = 0;
  for (int i = lo; i < hi; i++) ties += order_key(to_float(x[i])) == kth;
  float total;
  int rank = static_cast<int>(block_exclusive_scan(static_cast<float>(ties), total, sh));
  for (int i = lo; i < hi && above + rank < k; i++) {
    const float v = to_float(x[i]);
    if (order_key(v) == kth) {
      cand_val[above + rank] = v;
      cand_idx[above + rank] = i;
      rank++;
    }
  }
  __syncthreads();
  // Rank sort: descending value, ascending index.
  for (int i = threadIdx.x; i < k; i += blockDim.x) {
    const float v = cand_val[i];
    const int id = cand_idx[i];
    int pos = 0;
    for (int j = 0; j < k; j++) {
      pos += cand_val[j] > v || (cand_val[j] == v && cand_idx[j] < id);
    }
    values[static_cast<int64_t>(blockIdx.x) * k + pos] = v - lse;
    indices[static_cast<int64_t>(blockIdx.x) * k + pos] = id;
  }
}

struct SampleParams {
  int32_t* out;
  const float* temperature;
  const int32_t* top_k;
  const float* top_p;
  const float* min_p;
  const float* repetition_penalty;
  const float* presence_penalty;
  const float* frequency_penalty;
  const int32_t* prompt_tokens;
  const int32_t* prompt_offsets;
  const int32_t* output_tokens;
  const int32_t* output_offsets;
  const int64_t* seeds;
  const int64_t* steps;
  float* work;     // [rows of this launch, V]: penalised, temperature-scaled logits
  int32_t* counts;  // [rows of this launch, V]: output occurrences | kPromptFlag; zero on entry and exit
  int V;
  int row0;  // first row of this launch
  int prompt_total, output_total;  // entries of prompt_tokens and output_tokens
  IndexFault* fault;
};

template <typename T>
__global__ void __launch_bounds__(kThreads) sample_kernel(SampleParams p, const T* logits) {
  __shared__ Scratch sh;
  const int b = p.row0 + blockIdx.x;
  const int V = p.V;
  const T* x = logits + static_cast<int64_t>(b) * V;
  float* w = p.work + static_cast<int64_t>(blockIdx.x) * V;
  int32_t* cnt = p.counts + static_cast<int64_t>(blockIdx.x) * V;
  const float temperature = p.temperature[b];
  const float rep = p.repetition_penalty[b], pres = p.presence_penalty[b], freq = p.frequency_penalty[b];
  // Offsets out of order or past the token lists would read outside them: such a row gets no penalties.
  IndexFault* f = threadIdx.x == 0 ? p.fault : nullptr;
  const int po0 = p.prompt_offsets[b], po1 = p.prompt_offsets[b + 1];
  const int oo0 = p.output_offsets[b], oo1 = p.output_offsets[b + 1];
  const bool offsets_ok = index_ok(f, kArgPromptOffsets, b, po0, 0, p.prompt_total + 1) &&
                          index_ok(f, kArgPromptOffsets, b + 1, po1, po0, p.prompt_total + 1) &&
                          index_ok(f, kArgOutputOffsets, b, oo0, 0, p.output_total + 1) &&
                          index_ok(f, kArgOutputOffsets, b + 1, oo1, oo0, p.output_total + 1);
  const bool penalised = offsets_ok && (rep != 1.f || pres != 0.f || freq != 0.f);
  if (p.fault != nullptr && offsets_ok) {  // checks on: ids the penalties do not read are range-checked too
    const bool prompt_read = penalised && rep != 1.f;
    for (int i = po0 + threadIdx.x; i < po1 && !prompt_read; i += blockDim.x) {
      index_ok(p.fault, kArgPromptTokens, i, p.prompt_tokens[i], 0, V);
    }
    for (int i = oo0 + threadIdx.x; i < oo1 && !penalised; i += blockDim.x) {
      index_ok(p.fault, kArgOutputTokens, i, p.output_tokens[i], 0, V);
    }
  }
  const bool greedy = temperature <= 0.f || p.top_k[b] == 1;

  // Penalties: mark the row's prompt and output tokens, then adjust those logits and clear the marks.
  if (penalised) {
    if (rep != 1.f) {
      for (int i = po0 + threadIdx.x; i < po1; i += blockDim.x) {
        // An id outside [0, V) would mark another row's counts (or past them) and never be cleared: skip it.
        const int tok = p.prompt_tokens[i];
        if (index_ok(p.fault, kArgPromptTokens, i, tok, 0, V)) atomicOr(&cnt[tok], kPromptFlag);
      }
    }
    for (int i = oo0 + threadIdx.x; i < oo1; i += blockDim.x) {
      const int tok = p.output_tokens[i];
      if (index_ok(p.fault, kArgOutputTokens, i, tok, 0, V)) atomicAdd(&cnt[tok], 1);
    }
    __syncthreads();
  }
  const float inv_t = greedy ? 1.f : 1.f / temperature;
  float best = -INFINITY, mx = -INFINITY;
  int best_idx = 0x7fffffff;
  for (int i = threadIdx.x; i < V; i += blockDim.x) {
    float v = to_float(x[i]);
    if (penalised) {
      const int c = cnt[i];
      if (c != 0) {
        const int n_out = c & (kPromptFlag - 1);
        if (rep != 1.f) v = v > 0.f ? v / rep : v * rep;
        if (n_out > 0) v -= freq * static_cast<float>(n_out) + pres;
        cnt[i] = 0;
      }
    }
    if (greedy) {
      if (v > best || best_idx == 0x7fffffff) {
        best = v;
        best_idx = i;
      }
    } else {
      v *= inv_t;
      w[i] = v;
      mx = fmaxf(mx, v);
    }
  }
  if (greedy) {
    const int r = block_argmax(best, best_idx, sh);
    if (threadIdx.x == 0) p.out[b] = r;
    return;
  }
  mx = block_max(mx, sh.f);

  // top-k: keep keys at or above the k-th largest (ties at the threshold are all kept).
  const int k = p.top_k[b];
  uint32_t k_thresh = 0;
  if (k > 0 && k < V) {
    auto item = [&](int i, uint32_t& key, uint64_t& wt) {
      key = order_key(w[i]);
      wt = 1;
      return true;
    };
    k_thresh = radix_select(item, V, static_cast<uint64_t>(k), 0.0, sh);
  }
  // top-p over the top-k distribution: the smallest head of the sorted distribution holding top_p of the mass.
  const float top_p = p.top_p[b];
  uint32_t p_thresh = 0;
  if (top_p < 1.f) {
    float z = 0.f;
    for (int i = threadIdx.x; i < V; i += blockDim.x) {
      if (order_key(w[i]) >= k_thresh) z += expf(w[i] - mx);
    }
    const float inv_z = 1.f / block_sum(z, sh.f);
    auto item = [&](int i, uint32_t& key, uint64_t& wt) {
      key = order_key(w[i]);
      if (key < k_thresh) return false;
      wt = static_cast<uint64_t>(static_cast<double>(expf(w[i] - mx) * inv_z) * kMassScale);
      return true;
    };
    p_thresh = radix_select(item, V, 0, static_cast<double>(top_p), sh);
  }
  // min-p keeps tokens with p >= min_p * p_max, i.e. exp(w - max) >= min_p; renormalising does not change it.
  const float min_p = p.min_p[b];
  const uint32_t thresh = max(k_thresh, p_thresh);
  auto kept_weight = [&](int i) -> float {
    const float v = w[i];
    if (order_key(v) < thresh) return 0.f;
    const float e = expf(v - mx);
    return e >= min_p ? e : 0.f;
  };

  // Inverse-CDF draw in token order with the row's (seed, step) uniform; each thread owns a contiguous chunk.
  const int chunk = (V + blockDim.x - 1) / blockDim.x;
  const int lo = threadIdx.x * chunk, hi = min(V, lo + chunk);
  float local = 0.f;
  int last_kept = -1;
  for (int i = lo; i < hi; i++) {
    const float e = kept_weight(i);
    local += e;
    if (e > 0.f) last_kept = i;
  }
  float total;
  const float before = block_exclusive_scan(local, total, sh);
  const float target =
      static_cast<float>(philox_uniform(static_cast<uint64_t>(p.seeds[b]), static_cast<uint64_t>(p.steps[b]))) * total;
  if (threadIdx.x == 0) sh.count = -1;
  __syncthreads();
  if (local > 0.f && target >= before && target < before + local) {
    float cum = before;
    int pick = last_kept;
    for (int i = lo; i < hi; i++) {
      const float e = kept_weight(i);
      cum += e;
      if (e > 0.f && target < cum) {
        pick = i;
        break;
      }
    }
    sh.count = pick;  // at most one thread's range holds the target
  }
  __syncthreads();
  if (sh.count < 0) {
    // Rounding put the target past the last kept token's range end: take the last kept token.
    const int lk = block_argmax(static_cast<float>(last_kept), last_kept, sh);
    if (threadIdx.x == 0) p.out[b] = lk;
  } else if (threadIdx.x == 0) {
    p.out[b] = sh.count;
  }
}

// One thread per logit: clears (to -inf) the logits whose bit in the row's mask is 0.
template <typename T>
__global__ void apply_token_bitmask_kernel(T* logits, const uint32_t* bitmask, int64_t V, int64_t W) {
  const int64_t v = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (v >= V) return;
  const int64_t b = blockIdx.y;
  if (!((bitmask[b * W + (v >> 5)] >> (v & 31)) & 1u)) logits[b * V + v] = from_float<T>(-INFINITY);
}

}  // namespace

void apply_token_bitmask(const TensorRef& logits, const TensorRef& bitmask, cudaStream_t stream) {
  const int64_t B = logits.dim(0), V = logits.dim(1), W = bitmask.dim(1);
  if (B == 0 || V == 0) return;
  constexpr int kMaskThreads = 256;
  const dim3 grid(static_cast<unsigned>((V + kMaskThreads - 1) / kMaskThreads), static_cast<unsigned>(B));
  SLUICE_DISPATCH_FLOAT("apply_token_bitmask", logits.dtype, T, {
    apply_token_bitmask_kernel<T><<<grid, kMaskThreads, 0, stream>>>(
        logits.ptr<T>(), reinterpret_cast<const uint32_t*>(bitmask.ptr<int32_t>()), V, W);
    SLUICE_LAUNCH_CHECK();
  });
}

void argmax(const TensorRef& out, const TensorRef& logits, cudaStream_t stream) {
  const int64_t V = logits.dim(logits.shape.size() - 1);
  const int64_t B = V == 0 ? 0 : logits.numel() / V;
  if (B == 0) return;
  SLUICE_DISPATCH_FLOAT("argmax", logits.dtype, T, {
    argmax_kernel<T><<<static_cast<unsigned>(B), kThreads, 0, stream>>>(out.ptr<int32_t>(), logits.ptr<const T>(),
                                                                        static_cast<int>(V));
    SLUICE_LAUNCH_CHECK();
  });
}

void gather_logprobs(const TensorRef& out, const TensorRef& logits, const TensorRef& tokens, IndexFault* fault,
                     cudaStream_t stream) {
  const int64_t V = logits.dim(logits.shape.size() - 1);
  const int64_t B = V == 0 ? 0 : logits.numel() / V;
  if (B == 0) return;
  SLUICE_DISPATCH_FLOAT("gather_logprobs", logits.dtype, T, {
    SLUICE_DISPATCH_INDEX("gather_logprobs", tokens.dtype, I, {
      gather_logprobs_kernel<T, I><<<static_cast<unsigned>(B), kThreads, 0, stream>>>(
          out.ptr<float>(), logits.ptr<const T>(), tokens.ptr<const I>(), static_cast<int>(V), fault);
      SLUICE_LAUNCH_CHECK();
    });
  });
}

void log_softmax_topk(const TensorRef& values, const TensorRef& indices, const TensorRef& logits, int k,
                      cudaStream_t stream) {
  const int64_t V = logits.dim(logits.shape.size() - 1);
  const int64_t B = V == 0 ? 0 : logits.numel() / V;
  if (B == 0 || k == 0) return;
  if (k > kMaxTopK) unsupported("log_softmax_topk", "k " + std::to_string(k) + " (at most 1024)");
  SLUICE_DISPATCH_FLOAT("log_softmax_topk", logits.dtype, T, {
    log_softmax_topk_kernel<T><<<static_cast<unsigned>(B), kThreads, 0, stream>>>(
        values.ptr<float>(), indices.ptr<int32_t>(), logits.ptr<const T>(), static_cast<int>(V), k);
    SLUICE_LAUNCH_CHECK();
  });
}

void sample(const TensorRef& out, const TensorRef& logits, const SamplingRefs& params, Workspace& scratch,
            Workspace& zeroed, IndexFault* fault, cudaStream_t stream) {
  const int64_t V = logits.dim(logits.shape.size() - 1);
  const int64_t B = V == 0 ? 0 : logits.numel() / V;
  if (B == 0) return;
  const int64_t chunk_rows = std::min<int64_t>(B, kSampleRowChunk);
  SampleParams p{};
  p.out = out.ptr<int32_t>();
  p.temperature = params.temperature.ptr<const float>();
  p.top_k = params.top_k.ptr<const int32_t>();
  p.top_p = params.top_p.ptr<const float>();
  p.min_p = params.min_p.ptr<const float>();
  p.repetition_penalty = params.repetition_penalty.ptr<const float>();
  p.presence_penalty = params.presence_penalty.ptr<const float>();
  p.frequency_penalty = params.frequency_penalty.ptr<const float>();
  p.prompt_tokens = params.prompt_tokens.ptr<const int32_t>();
  p.prompt_offsets = params.prompt_offsets.ptr<const int32_t>();
  p.output_tokens = params.output_tokens.ptr<const int32_t>();
  p.output_offsets = params.output_offsets.ptr<const int32_t>();
  p.seeds = params.seeds.ptr<const int64_t>();
  p.steps = params.steps.ptr<const int64_t>();
  p.work = static_cast<float*>(scratch.get(static_cast<size_t>(chunk_rows * V) * sizeof(float)));
  p.counts = static_cast<int32_t*>(zeroed.get(static_cast<size_t>(chunk_rows * V) * sizeof(int32_t)));
  p.V = static_cast<int>(V);
  p.prompt_total = static_cast<int>(params.prompt_tokens.numel());
  p.output_total = static_cast<int>(params.output_tokens.numel());
  p.fault = fault;
  SLUICE_DISPATCH_FLOAT("sample", logits.dtype, T, {
    for (int64_t r0 = 0; r0 < B; r0 += chunk_rows) {
      p.row0 = static_cast<int>(r0);
      const unsigned rows = static_cast<unsigned>(std::min(chunk_rows, B - r0));
      sample_kernel<T><<<rows, kThreads, 0, stream>>>(p, logits.ptr<const T>());
      SLUICE_LAUNCH_CHECK();
    }
  });
}

}  // namespace cuda
}  // namespace sluice
