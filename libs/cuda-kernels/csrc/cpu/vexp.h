// e^x per lane of a GCC vector type F (float lanes), for the CPU kernels' softmax and SiLU: Cody-Waite reduction to
// r in [-ln2/2, ln2/2], a degree-7 polynomial (relative error about 2 ulp), and 2^n built in the exponent bits.
// x is clamped to [-87, 88] (e^-87 is still a normal float; n stays <= 127); a lane's result depends only on that lane.
#pragma once

#include <cstdint>

namespace sluice {
namespace {  // internal to each file: a copy built with AVX-512 flags must never serve the baseline path

template <class F>
inline F vexp(F x) {
  typedef int32_t I __attribute__((vector_size(sizeof(F))));
  const F zero = {};
  const F lo = zero - 87.0f, hi = zero + 88.0f;
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

}  // namespace
}  // namespace sluice
