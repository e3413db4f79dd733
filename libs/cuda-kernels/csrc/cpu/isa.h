// Which CPU kernel set runs: chosen once per process from CPUID, or forced by SLUICE_CPU_ISA
// (avx2 | avx512 | avx512bf16; avx512bf16 also multiplies bf16 weights by bf16-rounded activations in bf16 pairs).
#pragma once

namespace sluice {

enum class CpuIsa { Baseline, Avx512, Avx512Bf16 };

// The kernel set in use; throws std::runtime_error naming SLUICE_CPU_ISA when it asks for what cannot run here.
CpuIsa cpu_isa();
// "avx512bf16", "avx512", or the baseline's build target: "avx2" (x86-64-v3) or "generic".
const char* cpu_isa_name(CpuIsa isa);
// Whether this build has the AVX-512 kernels and this CPU runs them (whatever SLUICE_CPU_ISA says).
bool cpu_runs_avx512();
// Whether the CPU has AVX512_BF16.
bool cpu_has_avx512_bf16();

}  // namespace sluice
