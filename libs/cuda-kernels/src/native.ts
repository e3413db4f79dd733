// Loads the addon once per thread (each worker_thread gets its own module instance and native state).
import { join } from 'node:path';
import type { Backend, CpuKernelPath, DeviceKind, Tensor } from './api';
import { KernelError } from './errors';

export interface SafetensorsEntry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/** The native object: the Backend contract minus loadSafetensors, which parses the header in TS first. */
export type NativeBackendObject = Omit<Backend, 'loadSafetensors'> & {
  loadSafetensorsEntries(path: string, dataStart: number, entries: SafetensorsEntry[], asStored?: boolean): Tensor[];
};

interface Binding {
  NativeBackend: new (device: DeviceKind, ordinal?: number) => NativeBackendObject;
  registerErrorClass(ctor: typeof KernelError): void;
  cudaDeviceCount(): number;
  cudaBuilt: boolean;
  cpuKernelPath(): CpuKernelPath;
  cpuFmaPeak(lanes: number, threads: number, seconds: number): number[];
  cpuReadBandwidth(threads: number, bytes: number): number;
}

export const addonPath = join(__dirname, '..', 'build', 'Release', 'sluice_kernels.node');

let binding: Binding | undefined;

export function native(): Binding {
  if (binding) return binding;
  let loaded: Binding;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require(addonPath) as Binding;
  } catch (err) {
    throw new KernelError(
      `cannot load the native op set from ${addonPath} (${(err as Error).message}); ` +
        'build it with `npm run setup -w @sluice/cuda-kernels`',
      'E_LOAD',
      'load',
      '',
    );
  }
  loaded.registerErrorClass(KernelError);
  binding = loaded;
  return loaded;
}
