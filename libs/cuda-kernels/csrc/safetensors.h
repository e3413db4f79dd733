// Weights from a .safetensors file whose header was parsed in TypeScript: the file is memory-mapped once,
// f32 (and integer) tensors point straight into the mapping, bf16/f16 are widened to f32 once on CPU, and
// a device backend gets each tensor uploaded as stored.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backend.h"
#include "tensor.h"

namespace sluice {

struct SafetensorsEntry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  int64_t begin = 0, end = 0;  // byte range relative to the data section
};

struct LoadedTensor {
  std::shared_ptr<Storage> storage;
  DType dtype;
  std::vector<int64_t> shape;
};

// Throws std::runtime_error naming the tensor on a bad range or an I/O failure. On CPU bf16/f16 tensors are
// widened to f32 unless as_stored.
std::vector<LoadedTensor> load_safetensors(const std::shared_ptr<Backend>& backend, const std::string& path,
                                           int64_t data_start, const std::vector<SafetensorsEntry>& entries,
                                           bool as_stored = false);

}  // namespace sluice
