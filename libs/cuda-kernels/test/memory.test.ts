import { KernelError } from '../src';
import { backendFor, devices, expectKernelError, Rng } from './helpers';

describe.each(devices())('memory on %s', (device) => {
  const b = backendFor(device);

  it('round-trips every dtype through fromHost/toHost', () => {
    const rng = new Rng(1);
    const cases = [
      [rng.floats(7), 'f32'],
      [Uint16Array.from({ length: 5 }, () => rng.int(65536)), 'bf16'],
      [Uint16Array.from({ length: 5 }, () => rng.int(65536)), 'f16'],
      [Int32Array.from({ length: 9 }, () => rng.int(1e9) - 5e8), 'i32'],
      [BigInt64Array.from({ length: 3 }, () => BigInt(rng.int(1e9)) * 1000003n), 'i64'],
      [Uint8Array.from({ length: 11 }, () => rng.int(256)), 'u8'],
    ] as const;
    for (const [data, dtype] of cases) {
      const t = b.fromHost(data, [data.length], dtype);
      expect(t.dtype).toBe(dtype);
      expect(t.device).toBe(device);
      expect(t.shape).toEqual([data.length]);
      expect(t.numel).toBe(data.length);
      expect(b.toHost(t)).toEqual(data);
      t.free();
    }
  });

  it('views and narrows share memory and keep offsets', () => {
    const data = new Rng(2).floats(4 * 6);
    const t = b.fromHost(data, [4, 6], 'f32');
    const v = b.view(t, [8, 3]);
    expect(v.shape).toEqual([8, 3]);
    const rows = b.narrow(t, 1, 3);
    expect(rows.shape).toEqual([2, 6]);
    expect(b.toHost(rows)).toEqual(data.subarray(6, 18));
    const patch = new Rng(3).floats(12);
    b.copyFromHost(rows, patch);
    const all = b.toHost(v) as Float32Array;
    expect(all.subarray(6, 18)).toEqual(patch);
    expect(all.subarray(0, 6)).toEqual(data.subarray(0, 6));
    expect(b.narrow(t, 2, 2).shape).toEqual([0, 6]);
    t.free();
  });

  it('handles empty tensors', () => {
    const t = b.fromHost(new Int32Array(0), [0], 'i32');
    expect(t.numel).toBe(0);
    expect(b.toHost(t)).toEqual(new Int32Array(0));
    t.free();
  });

  it('throws on use after free, for the tensor and its views', () => {
    const t = b.fromHost(new Float32Array([1, 2, 3, 4]), [2, 2], 'f32');
    const v = b.narrow(t, 0, 1);
    t.free();
    expect(t.freed).toBe(true);
    expect(v.freed).toBe(true);
    expectKernelError(() => b.toHost(t), 'E_FREED', 'toHost', 'src');
    expectKernelError(() => b.view(v, [2]), 'E_FREED', 'view', 't');
    t.free(); // a second free is harmless
  });

  it('freeing a view leaves the base usable', () => {
    const t = b.fromHost(new Float32Array([1, 2, 3, 4]), [2, 2], 'f32');
    const v = b.narrow(t, 1, 2);
    v.free();
    expect(v.freed).toBe(true);
    expect(b.toHost(t)).toEqual(new Float32Array([1, 2, 3, 4]));
    t.free();
  });

  it('reuses freed memory: steady-state allocation does not grow the pool', () => {
    const shapes = [[64, 4096], [64, 1024], [17]];
    const step = () => {
      const ts = shapes.map((s) => b.empty(s, 'f32'));
      for (const t of ts) t.free();
    };
    step();
    const before = b.memoryStats();
    for (let i = 0; i < 20; i++) step();
    const after = b.memoryStats();
    expect(after.allocatedBytes + after.cachedBytes).toBe(before.allocatedBytes + before.cachedBytes);
    const t = b.empty([64, 4096], 'f32');
    expect(b.memoryStats().allocatedBytes).toBeGreaterThanOrEqual(before.allocatedBytes + 64 * 4096 * 4);
    t.free();
  });

  it('allocates pinned host tensors on the cpu side', () => {
    const p = b.emptyPinned([3, 4], 'f32');
    expect(p.device).toBe('cpu');
    const data = new Rng(4).floats(12);
    b.copyFromHost(p, data);
    expect(b.toHost(p)).toEqual(data);
    p.free();
  });

  // copy() into pinned memory is queued; toHost must not read before it lands (a large copy behind a GEMM, so
  // on a GPU an unsynchronised read would see the old contents).
  it('toHost of pinned memory waits for the copies queued into it: the whole stream, or the given event', () => {
    const n = 1 << 18;
    const data = new Rng(7).floats(n);
    const src = b.fromHost(data, [n], 'f32');
    const pinned = b.emptyPinned([n], 'f32');
    const busy = b.empty([512, 512], 'f32');
    const square = b.fromHost(new Rng(8).floats(512 * 512), [512, 512], 'f32');
    const queued = () => {
      b.copyFromHost(pinned, new Float32Array(n));
      b.gemm(busy, square, square);
      b.copy(pinned, src);
    };
    queued();
    expect(b.toHost(pinned)).toEqual(data);
    const done = b.createEvent();
    queued();
    b.recordEvent(done);
    expect(b.toHost(pinned, done)).toEqual(data);
    expectKernelError(() => b.toHost(pinned, 1.5), 'E_ARG_TYPE', 'toHost', 'afterEvent');
    expect(() => b.toHost(pinned, 987654)).toThrow(/toHost/);
    b.destroyEvent(done);
    for (const t of [src, pinned, busy, square]) t.free();
  });

  it('emptyCache hands cached blocks back and keeps live ones', () => {
    const live = b.empty([1000], 'f32');
    b.empty([1 << 20], 'f32').free();
    expect(b.memoryStats().cachedBytes).toBeGreaterThanOrEqual(4 << 20);
    const allocated = b.memoryStats().allocatedBytes;
    b.emptyCache();
    expect(b.memoryStats()).toMatchObject({ cachedBytes: 0, allocatedBytes: allocated });
    expect(b.toHost(b.narrow(live, 0, 1)).length).toBe(1);
    live.free();
  });

  it('rejects bad host data', () => {
    expectKernelError(() => b.fromHost(new Float32Array(3), [2, 2], 'f32'), 'E_SHAPE', 'fromHost', 'data');
    expectKernelError(() => b.fromHost(new Int32Array(4), [4], 'f32'), 'E_ARG_TYPE', 'fromHost', 'data');
    expectKernelError(() => b.fromHost(new Float32Array(4), [4], 'f64' as never), 'E_DTYPE', 'fromHost', 'dtype');
    expectKernelError(() => b.empty([2, -1], 'f32'), 'E_SHAPE', 'empty', 'shape');
    const t = b.empty([2, 2], 'f32');
    expectKernelError(() => b.copyFromHost(t, new Float32Array(5)), 'E_SHAPE', 'copyFromHost', 'src');
    expectKernelError(() => b.view(t, [3]), 'E_SHAPE', 'view', 'shape');
    expectKernelError(() => b.narrow(t, 1, 3), 'E_RANGE', 'narrow', 'end');
    expectKernelError(() => b.toHost({} as never), 'E_ARG_TYPE', 'toHost', 'src');
    t.free();
  });

  it('events time work; graphs follow supportsGraphs', () => {
    const e0 = b.createEvent();
    const e1 = b.createEvent();
    b.recordEvent(e0);
    const x = b.empty([256, 256], 'f32');
    b.gemm(x, b.fromHost(new Rng(5).floats(256 * 256), [256, 256], 'f32'), b.fromHost(new Rng(6).floats(256 * 256), [256, 256], 'f32'));
    b.recordEvent(e1);
    b.waitEvent(e1);
    b.synchronize();
    expect(b.elapsedMs(e0, e1)).toBeGreaterThanOrEqual(0);
    b.destroyEvent(e0);
    b.destroyEvent(e1);
    if (!b.supportsGraphs) {
      expectKernelError(() => b.beginCapture(), 'E_UNSUPPORTED', 'beginCapture', '');
    }
    expect(() => b.recordEvent(987654)).toThrow(KernelError);
  });
});
