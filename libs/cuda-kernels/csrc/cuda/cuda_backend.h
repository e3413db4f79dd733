// The CUDA backend's entry points for the binding layer (compiled in only with SLUICE_WITH_CUDA).
#pragma once

#include <memory>

#include "backend.h"

namespace sluice {

// A backend on CUDA device `device`, with its own compute stream, caching pool and cuBLAS handle.
std::shared_ptr<Backend> make_cuda_backend(int device);
// Number of visible CUDA devices; 0 when there is no driver or no device (never throws).
int cuda_device_count();

}  // namespace sluice
