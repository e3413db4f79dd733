import { cudaAvailable, getBackend } from '../src';
import { backendFor, devices, expectKernelError, Rng, selectDevices } from './helpers';

describe('SLUICE_KERNEL_DEVICES', () => {
  it('defaults to every backend the build can run', () => {
    expect(selectDevices(undefined, false)).toEqual(['cpu']);
    expect(selectDevices('', true)).toEqual(['cpu', 'cuda']);
  });

  it('runs exactly the requested devices', () => {
    expect(selectDevices('cuda', true)).toEqual(['cuda']);
    expect(selectDevices('cpu, cuda,cpu', true)).toEqual(['cpu', 'cuda']);
  });

  it('fails with the reason when cuda is requested but cannot run, or a name is unknown', () => {
    expect(() => selectDevices('cpu,cuda', false)).toThrow(/asks for cuda, but this build has no CUDA backend/);
    expect(() => selectDevices('gpu', true)).toThrow(/'gpu' is not a device/);
  });
});

describe('index checks', () => {
  it.each(devices())('are on for %s in this suite (jest.config.js sets SLUICE_DEVICE_CHECKS), so E_RANGE cases run everywhere', (device) => {
    expect(process.env.SLUICE_DEVICE_CHECKS).toBe('1');
    expect(backendFor(device).indexChecks).toBe(true);
  });
});

describe('tensors of another device', () => {
  it('are rejected with E_DEVICE naming op and argument (a CPU-only build cannot make one)', () => {
    if (!cudaAvailable()) {
      expectKernelError(() => getBackend('cuda'), 'E_UNSUPPORTED', 'getBackend', 'device');
      return;
    }
    const cpu = getBackend('cpu');
    const cuda = getBackend('cuda');
    const rng = new Rng(3);
    const host = { a: cpu.fromHost(rng.floats(6), [2, 3], 'f32'), w: cpu.fromHost(rng.floats(12), [4, 3], 'f32') };
    const dev = { a: cuda.fromHost(rng.floats(6), [2, 3], 'f32'), w: cuda.fromHost(rng.floats(12), [4, 3], 'f32') };
    expectKernelError(() => cuda.gemm(cuda.empty([2, 4], 'f32'), host.a, dev.w), 'E_DEVICE', 'gemm', 'a');
    expectKernelError(() => cpu.gemm(cpu.empty([2, 4], 'f32'), host.a, dev.w), 'E_DEVICE', 'gemm', 'w');
    const pairs = cuda.fromHost(Int32Array.from([0, 1]), [1, 2], 'i32');
    const caches = [cuda.empty([2, 4], 'f32'), cpu.empty([2, 4], 'f32')];
    expectKernelError(() => cuda.copyBlocks(caches, pairs), 'E_DEVICE', 'copyBlocks', 'caches[1]');
  });
});
