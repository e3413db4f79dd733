// Error checking for CUDA runtime calls: every failure becomes a BackendError naming file:line and the call.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "backend.h"

namespace sluice {

inline void cuda_check(cudaError_t err, const char* expr, const char* file, int line) {
  if (err != cudaSuccess) {
    throw BackendError(std::string(file) + ":" + std::to_string(line) + ": " + expr + " failed: " +
                       cudaGetErrorName(err) + ": " + cudaGetErrorString(err));
  }
}

}  // namespace sluice

#define SLUICE_CUDA_CHECK(expr) ::sluice::cuda_check((expr), #expr, __FILE__, __LINE__)
// After a kernel launch: reports bad launch configurations immediately (execution errors surface at sync).
#define SLUICE_LAUNCH_CHECK() ::sluice::cuda_check(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)
