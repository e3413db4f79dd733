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
  if (want.empty() || want == "auto") return cpu_runs_avx512() ? CpuIsa::Avx512 : CpuIsa::Baseline;
  if (want == "avx2") return CpuIsa::Baseline;
  if (want == "avx512") {
    if (cpu_runs_avx512()) return CpuIsa::Avx512;
    throw std::runtime_error("SLUICE_CPU_ISA=avx512, but this CPU or build has no AVX-512 kernels (needs AVX-512 F/BW/VL/DQ)");
  }
  throw std::runtime_error("SLUICE_CPU_ISA must be auto, avx2 or avx512, got '" + want + "'");
}

}  // namespace

CpuIsa cpu_isa() {
  static const CpuIsa isa = choose();  // a throw here is retried on the next call
  return isa;
}

const char* cpu_isa_name(CpuIsa isa) {
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
