// Device-side index checks. Index values (token ids, slots, block ids, positions, lengths) live on the device, so
// the binding layer cannot range-check them; the kernels do. An index outside its range is never dereferenced
// (its row is skipped, or read as zeros), and when the backend's checks are on (SLUICE_DEVICE_CHECKS=1) the first
// one is recorded in an IndexFault that the backend reads after the op and reports as E_RANGE.
#pragma once

#include <cstdint>

namespace sluice {
namespace cuda {

// Which argument held the bad index; names in index_arg_name (cuda_backend.cc).
enum IndexArg : int32_t {
  kArgIds = 1,
  kArgIndices,
  kArgPositions,
  kArgSlotMapping,
  kArgBlockTables,
  kArgContextLens,
  kArgCuSeqlensQ,
  kArgPairs,
  kArgPromptTokens,
  kArgOutputTokens,
  kArgTokens,
  kArgPromptOffsets,
  kArgOutputOffsets,
};

// The first out-of-range index a launch met: argument, element position, value and the range [lo, hi) it broke.
struct IndexFault {
  int32_t flag;  // 0 while none; set once by the first faulting thread
  int32_t arg;
  int64_t element;
  int64_t value;
  int64_t lo;
  int64_t hi;
};

#ifdef __CUDACC__
// True when lo <= v < hi; otherwise records the first fault (fault == nullptr: checks off) and returns false.
__device__ __forceinline__ bool index_ok(IndexFault* fault, IndexArg arg, int64_t element, int64_t v, int64_t lo,
                                         int64_t hi) {
  if (v >= lo && v < hi) return true;
  if (fault != nullptr && atomicCAS(&fault->flag, 0, 1) == 0) {
    fault->arg = arg;
    fault->element = element;
    fault->value = v;
    fault->lo = lo;
    fault->hi = hi;
  }
  return false;
}
#endif

}  // namespace cuda
}  // namespace sluice
