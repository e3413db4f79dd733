#include "cpu/isa.h"

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace sluice {
bool cpu_runs_avx512() {
#if defined(SLUICE_CPU_AVX512) && (defined(__x86_64__) || defined(__i386__))
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
#else
  return false;  // the AVX-512 kernels were not compiled into this build
#endif
}

namespace {

CpuIsa choose() {
  const char* env = std::getenv("SLUICE_CPU_ISA");
  const std::string want = env ? env : "";
  const bool bf16 = cpu_runs_avx512() && cpu_has_avx512_bf16();
  if (want.empty() || want == "auto") return bf16 ? CpuIsa::Avx512Bf16 : cpu_runs_avx512() ? CpuIsa::Avx512 : CpuIsa::Baseline;
  if (want == "avx2") return CpuIsa::Baseline;
  if (want == "avx512" && cpu_runs_avx512()) return CpuIsa::Avx512;
  if (want == "avx512bf16" && bf16) return CpuIsa::Avx512Bf16;
  if (want == "avx512" || want == "avx512bf16") {
    throw std::runtime_error("SLUICE_CPU_ISA=" + want + ", but this CPU or build cannot run it (AVX-512 F/BW/VL/DQ" +
                             (want == "avx512bf16" ? std::string(" and AVX512_BF16") : std::string()) + " needed)");
  }
  throw std::runtime_error("SLUICE_CPU_ISA must be auto, avx2, avx512 or avx512bf16, got '" + want + "'");
}

}  // namespace

CpuIsa cpu_isa() {
  static const CpuIsa isa = choose();  // a throw here is retried on the next call
  return isa;
}

const char* cpu_isa_name(CpuIsa isa) {
  if (isa == CpuIsa::Avx512Bf16) return "avx512bf16";
  if (isa == CpuIsa::Avx512) return "avx512";
#if defined(__AVX2__) && defined(__FMA__)
  return "avx2";
#else
  return "generic";
#endif
}

bool cpu_has_avx512_bf16() {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}

}  // namespace sluice
