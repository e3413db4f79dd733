import { cpus, platform, release, totalmem } from 'node:os';

export interface MachineInfo {
  cpuModel: string;
  logicalCores: number;
  memoryGiB: number;
  os: string;
  node: string;
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
  };
}

export function machineLine(info: MachineInfo = describeMachine()): string {
  return `${info.cpuModel}, ${info.logicalCores} logical cores, ${info.memoryGiB} GiB, ${info.os}, Node ${info.node}`;
}
