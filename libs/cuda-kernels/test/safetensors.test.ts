import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backendFor, devices, expectKernelError, Rng } from './helpers';
import { safetensorsFile, toBf16, toF16 } from './safetensors-writer';

const bf16Value = (x: number) => new Float32Array(new Uint32Array([toBf16(x) << 16]).buffer)[0];

describe.each(devices())('loadSafetensors on %s', (device) => {
  const b = backendFor(device);
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-st-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads every dtype with its shape; f32 stays f32, bf16/f16 widen on cpu', () => {
    const rng = new Rng(1);
    const w = rng.floats(6 * 5);
    const h = Float32Array.from(rng.floats(8), (x) => Math.round(x * 64) / 64); // exact in f16
    const ids = Int32Array.from({ length: 4 }, () => rng.int(1e6));
    const big = BigInt64Array.from([1n << 40n, -5n]);
    const bytes = Uint8Array.from([0, 7, 255]);
    const path = join(dir, 'all.safetensors');
    writeFileSync(path, safetensorsFile({
      'model.w': { dtype: 'F32', shape: [6, 5], data: w },
      'model.b': { dtype: 'BF16', shape: [2, 15], data: w },
      'model.h': { dtype: 'F16', shape: [8], data: h },
      ids: { dtype: 'I32', shape: [4], data: ids },
      big: { dtype: 'I64', shape: [2], data: big },
      bytes: { dtype: 'U8', shape: [3], data: bytes },
    }));
    const t = b.loadSafetensors(path);
    expect([...t.keys()].sort()).toEqual(['big', 'bytes', 'ids', 'model.b', 'model.h', 'model.w']);
    expect(t.get('model.w')!.shape).toEqual([6, 5]);
    expect(b.toHost(t.get('model.w')!)).toEqual(w);
    expect(b.toHost(t.get('ids')!)).toEqual(ids);
    expect(b.toHost(t.get('big')!)).toEqual(big);
    expect(b.toHost(t.get('bytes')!)).toEqual(bytes);
    if (device === 'cpu') {
      expect(t.get('model.b')!.dtype).toBe('f32');
      expect(t.get('model.b')!.shape).toEqual([2, 15]);
      expect(b.toHost(t.get('model.b')!)).toEqual(Float32Array.from(w, bf16Value));
      expect(b.toHost(t.get('model.h')!)).toEqual(h);
    } else {
      expect(b.toHost(t.get('model.b')!)).toEqual(Uint16Array.from(w, toBf16));
      expect(b.toHost(t.get('model.h')!)).toEqual(Uint16Array.from(h, toF16));
    }
  });

  it('maps f32 without copying and keeps the mapping alive while any tensor of it lives', () => {
    const rng = new Rng(2);
    const a = rng.floats(1 << 16);
    const c = rng.floats(100);
    const path = join(dir, 'zero-copy.safetensors');
    writeFileSync(path, safetensorsFile({ a: { dtype: 'F32', shape: [1 << 16], data: a }, c: { dtype: 'F32', shape: [100], data: c } }));
    const before = b.memoryStats().allocatedBytes;
    const t = b.loadSafetensors(path);
    if (device === 'cpu') expect(b.memoryStats().allocatedBytes).toBe(before);
    t.get('a')!.free();
    expect(b.toHost(t.get('c')!)).toEqual(c);
    // Writes go to a private copy, never to the file.
    b.copyFromHost(t.get('c')!, new Float32Array(100).fill(3));
    expect(b.loadSafetensors(path).get('c')!.shape).toEqual([100]);
    expect(b.toHost(b.loadSafetensors(path).get('c')!)).toEqual(c);
    expectKernelError(() => b.toHost(t.get('a')!), 'E_FREED', 'toHost', 'src');
  });

  it('copies tensors whose data is not aligned for their dtype', () => {
    const w = new Rng(3).floats(10);
    const path = join(dir, 'unaligned.safetensors');
    writeFileSync(path, safetensorsFile({ w: { dtype: 'F32', shape: [10], data: w } }, 1));
    expect(b.toHost(b.loadSafetensors(path).get('w')!)).toEqual(w);
  });

  it('reports unreadable and malformed files', () => {
    expectKernelError(() => b.loadSafetensors(join(dir, 'missing.safetensors')), 'E_IO', 'loadSafetensors', 'path');
    const bad = join(dir, 'bad.safetensors');
    const header = Buffer.from('{not json');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    writeFileSync(bad, Buffer.concat([len, header]));
    expectKernelError(() => b.loadSafetensors(bad), 'E_FORMAT', 'loadSafetensors', 'path');
    const f64 = join(dir, 'f64.safetensors');
    const file = safetensorsFile({ x: { dtype: 'F32', shape: [2], data: [1, 2] } });
    writeFileSync(f64, Buffer.from(file.toString('latin1').replace('"F32"', '"F64"'), 'latin1'));
    expect(() => b.loadSafetensors(f64)).toThrow(/unsupported dtype F64/);
    const truncated = join(dir, 'truncated.safetensors');
    const full = safetensorsFile({ x: { dtype: 'F32', shape: [64], data: new Rng(4).floats(64) } });
    writeFileSync(truncated, full.subarray(0, full.length - 8));
    expectKernelError(() => b.loadSafetensors(truncated), 'E_IO', 'loadSafetensors', 'path');
    expect(readFileSync(truncated).length).toBe(full.length - 8);
  });
});
