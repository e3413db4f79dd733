// The op set's entry point: one backend per device per thread, created on first use.
import type { Backend, CpuKernelPath, DeviceKind, LoadSafetensorsOptions, Tensor } from './api';
import { KernelError } from './errors';
import { native, type NativeBackendObject } from './native';
import { readSafetensorsHeader } from './safetensors';

export type * from './api';
export { KernelError, type KernelErrorCode } from './errors';

const backends = new Map<DeviceKind, Backend>();

function withLoader(obj: NativeBackendObject): Backend {
  const loadSafetensors = (path: string, options?: LoadSafetensorsOptions): Map<string, Tensor> => {
    const { dataStart, entries } = readSafetensorsHeader(path);
    const tensors = obj.loadSafetensorsEntries(path, dataStart, entries, options?.asStored === true);
    return new Map(entries.map((e, i) => [e.name, tensors[i]]));
  };
  return Object.assign(obj, { loadSafetensors });
}

/** True when this build has the CUDA backend and at least one GPU is visible. */
export function cudaAvailable(): boolean {
  return native().cudaBuilt && native().cudaDeviceCount() > 0;
}

/** The CPU kernel set this process runs (throws a KernelError E_BACKEND when SLUICE_CPU_ISA cannot be met). */
export function cpuKernelPath(): CpuKernelPath {
  return native().cpuKernelPath();
}

/**
 * Each thread's f32 GFLOP/s in an fma loop of `lanes`-wide vectors (8, or 16 where AVX-512 runs), all threads at
 * once for about `seconds`: the measured FMA peak that benchmark records compare with.
 */
export function cpuFmaPeak(lanes: 8 | 16, threads: number, seconds = 0.3): number[] {
  return native().cpuFmaPeak(lanes, threads, seconds);
}

/** GB/s of `threads` threads reading one buffer of `bytes` (default 1 GiB) start to end, best of 5 passes. */
export function cpuReadBandwidth(threads: number, bytes = 2 ** 30): number {
  return native().cpuReadBandwidth(threads, bytes);
}

/** The backend for a device (default: cuda when available, else cpu); the same object on every call in a thread. */
export function getBackend(device?: DeviceKind): Backend {
  const kind: DeviceKind = device ?? (cudaAvailable() ? 'cuda' : 'cpu');
  if (kind !== 'cpu' && kind !== 'cuda') {
    throw new KernelError(`getBackend: argument 'device' must be 'cpu' or 'cuda' (got ${String(kind)})`, 'E_ARG_TYPE', 'getBackend', 'device');
  }
  let backend = backends.get(kind);
  if (!backend) {
    backend = withLoader(new (native().NativeBackend)(kind));
    backends.set(kind, backend);
  }
  return backend;
}
