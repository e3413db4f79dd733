import fc from 'fast-check';
import { kvBudgetSource, resolveEngineConfig, type StepShape } from '../src/config';
import { EngineInvariantError, InvalidEngineOptionsError } from '../src/errors';
import { kvBudgetFromBlocks, kvBudgetFromBytes, kvBudgetFromDeviceMemory, type DeviceBudgetInput } from '../src/kv-budget';
import { resolveModelFiles } from '../src/model/model-files';
import { tinyModel } from './helpers/tiny-models';

const GIB = 2 ** 30;
const MIB = 2 ** 20;

function thrown(f: () => unknown): InvalidEngineOptionsError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidEngineOptionsError);
    return e as InvalidEngineOptionsError;
  }
  throw new Error('expected an InvalidEngineOptionsError');
}

describe('kv budget arithmetic', () => {
  const gpu: DeviceBudgetInput = {
    gpuMemoryUtilization: 0.9, totalDeviceBytes: 80 * GIB, usedBytesAfterWeights: 16 * GIB, peakActivationBytes: 2 * GIB,
    blockBytes: 2 * MIB, blockSize: 16, maxModelLen: 8192,
  };

  it('numBlocks passes through; bytes are floored to whole blocks', () => {
    expect(kvBudgetFromBlocks(7, 4096)).toEqual({ source: 'blocks', numBlocks: 7, blockBytes: 4096 });
    expect(kvBudgetFromBytes(3 * 4096 + 4095, 4096)).toEqual({ source: 'bytes', numBlocks: 3, blockBytes: 4096, kvCacheBytes: 3 * 4096 + 4095 });
  });

  it('a byte budget under one block names kvCacheBytes and both sizes', () => {
    const e = thrown(() => kvBudgetFromBytes(4095, 4096));
    expect(e.option).toBe('kvCacheBytes');
    expect(e.message).toBe('engine option kvCacheBytes: 4095 bytes hold no KV block (one block takes 4096 bytes)');
  });

  it('device memory: utilization x total, less weights and peak activations, in whole blocks', () => {
    // 0.9 x 80 GiB = 72 GiB; 72 - 16 - 2 = 54 GiB = 27648 blocks of 2 MiB.
    expect(kvBudgetFromDeviceMemory(gpu)).toEqual({
      source: 'device-memory', numBlocks: 27648, blockBytes: 2 * MIB, kvCacheBytes: 54 * GIB, gpuMemoryUtilization: 0.9,
      totalDeviceBytes: 80 * GIB, usedBytesAfterWeights: 16 * GIB, peakActivationBytes: 2 * GIB,
    });
    expect(kvBudgetFromDeviceMemory({ ...gpu, gpuMemoryUtilization: 1 }).kvCacheBytes).toBe(62 * GIB);
    // The share of device memory is floored to whole bytes before the rest is taken off.
    expect(kvBudgetFromDeviceMemory({ ...gpu, gpuMemoryUtilization: 0.5, totalDeviceBytes: 1001, usedBytesAfterWeights: 100, peakActivationBytes: 0, blockBytes: 1, maxModelLen: 16 }).kvCacheBytes).toBe(400);
  });

  it('never budgets more than the utilization share, and wastes less than one block of it', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 2 ** 40 }), fc.double({ min: 0.01, max: 1, noNaN: true }),
      fc.integer({ min: 0, max: 2 ** 38 }), fc.integer({ min: 0, max: 2 ** 36 }), fc.integer({ min: 1, max: 2 ** 24 }),
      (total, u, used, peak, blockBytes) => {
        const input = { gpuMemoryUtilization: u, totalDeviceBytes: total, usedBytesAfterWeights: used, peakActivationBytes: peak, blockBytes, blockSize: 16, maxModelLen: 16 };
        const room = Math.floor(u * total) - used - peak;
        if (room < blockBytes) {
          expect(() => kvBudgetFromDeviceMemory(input)).toThrow(InvalidEngineOptionsError);
          return;
        }
        const b = kvBudgetFromDeviceMemory(input);
        expect(b.kvCacheBytes).toBe(room);
        expect(b.numBlocks * blockBytes).toBeLessThanOrEqual(room);
        expect(room - b.numBlocks * blockBytes).toBeLessThan(blockBytes);
      },
    ));
  });

  it('no room left names gpuMemoryUtilization and every number it came from', () => {
    const e = thrown(() => kvBudgetFromDeviceMemory({ ...gpu, totalDeviceBytes: 20 * GIB }));
    expect(e.option).toBe('gpuMemoryUtilization');
    expect(e.message).toBe(
      `engine option gpuMemoryUtilization: 0.9 x ${20 * GIB} device bytes = ${18 * GIB} leaves 0 bytes for the KV cache after ` +
        `${16 * GIB} bytes in use after loading the weights and ${2 * GIB} bytes of peak activations (profiled forward pass); ` +
        'raise gpuMemoryUtilization, lower maxNumBatchedTokens or maxNumSeqs, or set kvCacheBytes',
    );
    expect(thrown(() => kvBudgetFromDeviceMemory({ ...gpu, usedBytesAfterWeights: 75 * GIB })).message).toContain(`leaves ${-5 * GIB} bytes`);
  });

  it('room for fewer blocks than one maxModelLen sequence needs is refused with the counts', () => {
    // 0.9 x 20 GiB - 16 - 2 GiB + 8 MiB of room: 4 blocks of 2 MiB, 512 needed for 8192 tokens.
    const e = thrown(() => kvBudgetFromDeviceMemory({ ...gpu, totalDeviceBytes: 20 * GIB, usedBytesAfterWeights: 16 * GIB - 8 * MIB }));
    expect(e.option).toBe('gpuMemoryUtilization');
    expect(e.message).toContain(`leaves ${8 * MIB} bytes for the KV cache`);
    expect(e.message).toContain(`4 blocks of ${2 * MIB} bytes, fewer than the 512 one sequence of maxModelLen 8192 tokens needs`);
    // Exactly one sequence's worth is enough.
    expect(kvBudgetFromDeviceMemory({ ...gpu, totalDeviceBytes: 20 * GIB, usedBytesAfterWeights: 16 * GIB - 1 * GIB }).numBlocks).toBe(512);
  });

  it('a backend that reports no device memory (the CPU backend) is refused, pointing at the byte options', () => {
    const e = thrown(() => kvBudgetFromDeviceMemory({ ...gpu, totalDeviceBytes: 0, usedBytesAfterWeights: 0 }));
    expect(e.message).toBe('engine option gpuMemoryUtilization: the backend reports 0 bytes of device memory, so no KV budget can be derived from it; set kvCacheBytes or numBlocks');
  });
});

describe('kv budget options', () => {
  const MODEL = tinyModel('tiny-llama');
  const config = resolveModelFiles(MODEL).config;
  // tiny-llama: 16 KiB per block of 16 tokens in f32.
  const device = { totalDeviceBytes: 64 * MIB, usedBytesAfterWeights: 8 * MIB, peakActivationBytes: 4 * MIB };

  it('the source is numBlocks, then kvCacheBytes, then device memory on CUDA only', () => {
    expect(kvBudgetSource({ model: MODEL, device: 'cuda', numBlocks: 4, kvCacheBytes: MIB })).toBe('blocks');
    expect(kvBudgetSource({ model: MODEL, device: 'cuda', kvCacheBytes: MIB })).toBe('bytes');
    expect(kvBudgetSource({ model: MODEL, device: 'cuda' })).toBe('device-memory');
    expect(kvBudgetSource({ model: MODEL, gpuMemoryUtilization: 0.5 })).toBe('bytes');
  });

  it('CPU keeps the 256 MiB default byte budget and reports it', () => {
    const measure = jest.fn();
    const c = resolveEngineConfig({ model: MODEL, gpuMemoryUtilization: 0.5 }, config, 'f32', measure);
    expect(c.numBlocks).toBe(16384);
    expect(c.kvBudget).toEqual({ source: 'bytes', numBlocks: 16384, blockBytes: 16384, kvCacheBytes: 256 * MIB });
    expect(measure).not.toHaveBeenCalled();
    expect(resolveEngineConfig({ model: MODEL, numBlocks: 7 }, config, 'f32').kvBudget).toEqual({ source: 'blocks', numBlocks: 7, blockBytes: 16384 });
  });

  it('CUDA without a size measures with the resolved step shape and sizes from device memory', () => {
    const measure = jest.fn((_shape: StepShape) => device);
    const c = resolveEngineConfig({ model: MODEL, device: 'cuda', maxNumSeqs: 8, maxNumBatchedTokens: 512, gpuMemoryUtilization: 0.5 }, config, 'f32', measure);
    expect(measure).toHaveBeenCalledWith({ blockSize: 16, maxNumSeqs: 8, maxNumBatchedTokens: 512, maxModelLen: 2048 });
    // 0.5 x 64 MiB - 8 - 4 MiB = 20 MiB = 1280 blocks of 16 KiB.
    expect(c.numBlocks).toBe(1280);
    expect(c.kvBudget).toEqual({ source: 'device-memory', numBlocks: 1280, blockBytes: 16384, kvCacheBytes: 20 * MIB, gpuMemoryUtilization: 0.5, ...device });
    expect(resolveEngineConfig({ model: MODEL, device: 'cuda' }, config, 'f32', () => device).kvBudget).toMatchObject({ gpuMemoryUtilization: 0.9, numBlocks: 2918 });
  });

  it('CUDA with kvCacheBytes or numBlocks never profiles', () => {
    const measure = jest.fn(() => device);
    expect(resolveEngineConfig({ model: MODEL, device: 'cuda', kvCacheBytes: MIB }, config, 'f32', measure).kvBudget.source).toBe('bytes');
    expect(resolveEngineConfig({ model: MODEL, device: 'cuda', numBlocks: 3 }, config, 'f32', measure).kvBudget.source).toBe('blocks');
    expect(measure).not.toHaveBeenCalled();
  });

  it('options that fail before any profiling do not run it', () => {
    const measure = jest.fn(() => device);
    expect(thrown(() => resolveEngineConfig({ model: MODEL, device: 'cuda', maxModelLen: 4096 }, config, 'f32', measure)).option).toBe('maxModelLen');
    expect(measure).not.toHaveBeenCalled();
  });

  it.each([0, -0.1, 1.01, Number.NaN, '0.9', null])('gpuMemoryUtilization %p is refused naming the option', (u) => {
    const e = thrown(() => resolveEngineConfig({ model: MODEL, gpuMemoryUtilization: u as number }, config, 'f32'));
    expect(e.option).toBe('gpuMemoryUtilization');
    expect(e.message).toContain('must be a number in (0, 1]');
  });

  it('a device that cannot hold one max-length sequence fails the engine options', () => {
    const e = thrown(() => resolveEngineConfig({ model: MODEL, device: 'cuda', gpuMemoryUtilization: 0.2 }, config, 'f32', () => device));
    expect(e.option).toBe('gpuMemoryUtilization');
    expect(e.message).toContain('fewer than the 128 one sequence of maxModelLen 2048 tokens needs');
  });

  it('a device-memory budget without a measurement is an internal error, not a silent default', () => {
    expect(() => resolveEngineConfig({ model: MODEL, device: 'cuda' }, config, 'f32')).toThrow(EngineInvariantError);
  });
});
