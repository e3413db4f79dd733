// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3"), the counter-based RNG
// behind seeded sampling: a row's draw depends only on (seed, step), never on the batch it ran in.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define SLUICE_HD __host__ __device__
#else
#define SLUICE_HD
#endif

namespace sluice {

SLUICE_HD inline void philox4x32_10(uint32_t ctr[4], uint32_t key0, uint32_t key1) {
  const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int round = 0; round < 10; round++) {
    const uint64_t p0 = static_cast<uint64_t>(M0) * ctr[0];
    const uint64_t p1 = static_cast<uint64_t>(M1) * ctr[2];
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    const uint32_t c0 = hi1 ^ ctr[1] ^ key0;
    const uint32_t c2 = hi0 ^ ctr[3] ^ key1;
    ctr[0] = c0;
    ctr[1] = lo1;
    ctr[2] = c2;
    ctr[3] = lo0;
    key0 += W0;
    key1 += W1;
  }
}

// The uniform in [0, 1) for (seed, step): 53 bits from the first two output words.
SLUICE_HD inline double philox_uniform(uint64_t seed, uint64_t step) {
  uint32_t ctr[4] = {static_cast<uint32_t>(step), static_cast<uint32_t>(step >> 32), 0u, 0u};
  philox4x32_10(ctr, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  const uint64_t bits = (static_cast<uint64_t>(ctr[0]) << 21) ^ (static_cast<uint64_t>(ctr[1]) >> 11);
  return static_cast<double>(bits & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}

}  // namespace sluice
