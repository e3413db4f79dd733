import { cpus, platform, release, totalmem } from 'node:os';

export interface MachineInfo {
  cpuModel: string;
  logicalCores: number;
  memoryGiB: number;
  os: string;
  node: string;
  /** The CPU kernel set the op set runs in this process (CPUID or SLUICE_CPU_ISA). */
  cpuKernels: string;
}

function cpuKernels(): string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { cpuKernelPath } = require('@sluice/cuda-kernels') as {
      cpuKernelPath(): { path: string; avx512bf16: boolean };
    };
    const p = cpuKernelPath();
    return `${p.path}${p.avx512bf16 ? ' (CPU has AVX512_BF16)' : ''}`;
  } catch (err) {
    return `unknown (${(err as Error).message})`;
  }
}

/** What a benchmark result must name so a reader knows where it was measured. */
export function describeMachine(): MachineInfo {
  const list = cpus();
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown CPU',
    logicalCores: list.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${platform()} ${release()}`,
    node: process.version,
    cpuKernels: cpuKernels(),
  };
}

export function machineLine(info: MachineInfo = describeMachine()): string {
  return `${info.cpuModel}, ${info.logicalCores} logical cores, ${info.memoryGiB} GiB, ${info.os}, Node ${info.node}, CPU kernels ${info.cpuKernels}`;
}
