// Host-side conversions between the 16-bit float formats and f32.
#pragma once

#include <cstdint>
#include <cstring>

#include "backend.h"

namespace sluice {

inline float bf16_to_float(uint16_t v) {
  const uint32_t bits = static_cast<uint32_t>(v) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float half_to_float(uint16_t h);

// Widens n bf16 or f16 values to f32.
void widen_to_f32(float* dst, const void* src, DType dtype, size_t n);

}  // namespace sluice
