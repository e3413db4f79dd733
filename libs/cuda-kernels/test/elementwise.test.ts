import { backendFor, devices, expectKernelError, F32_TOL, relErr, Rng } from './helpers';

describe.each(devices())('elementwise ops on %s', (device) => {
  const b = backendFor(device);
  const f32 = (data: Float32Array, shape: number[]) => b.fromHost(data, shape, 'f32');
  const i32 = (data: number[]) => b.fromHost(Int32Array.from(data), [data.length], 'i32');
  const host = (t: Parameters<typeof b.toHost>[0]) => Array.from(b.toHost(t) as Float32Array);

  it.each([[1, 5], [7, 33], [19, 128]])('embedding gathers rows (T=%i, H=%i)', (T, H) => {
    const rng = new Rng(10 + T);
    const V = 23;
    const table = rng.floats(V * H);
    const ids = Array.from({ length: T }, () => rng.int(V));
    const out = b.empty([T, H], 'f32');
    b.embedding(out, f32(table, [V, H]), i32(ids));
    const ref = ids.flatMap((id) => Array.from(table.subarray(id * H, (id + 1) * H)));
    expect(host(out)).toEqual(ref);
  });

  it('embedding rejects ids out of range and mismatched shapes', () => {
    const table = f32(new Rng(1).floats(12), [4, 3]);
    expectKernelError(() => b.embedding(b.empty([1, 3], 'f32'), table, i32([4])), 'E_RANGE', 'embedding', 'ids');
    expectKernelError(() => b.embedding(b.empty([2, 3], 'f32'), table, i32([1])), 'E_SHAPE', 'embedding', 'out');
    expectKernelError(
      () => b.embedding(b.empty([1, 3], 'f32'), table, b.fromHost(new Float32Array([1]), [1], 'f32')),
      'E_DTYPE', 'embedding', 'ids',
    );
  });

  function rmsRef(x: ArrayLike<number>, w: ArrayLike<number>, H: number, eps: number): number[] {
    const out: number[] = [];
    for (let r = 0; r < x.length / H; r++) {
      let ss = 0;
      for (let i = 0; i < H; i++) ss += x[r * H + i] ** 2;
      const s = 1 / Math.sqrt(ss / H + eps);
      for (let i = 0; i < H; i++) out.push(x[r * H + i] * s * w[i]);
    }
    return out;
  }

  it.each([[1, 8], [5, 67], [33, 4096]])('rmsNorm matches the float64 reference (T=%i, H=%i)', (T, H) => {
    const rng = new Rng(20 + H);
    const x = rng.floats(T * H, 3);
    const w = rng.floats(H);
    const out = b.empty([T, H], 'f32');
    b.rmsNorm(out, f32(x, [T, H]), f32(w, [H]), 1e-6);
    expect(relErr(host(out), rmsRef(x, w, H, 1e-6))).toBeLessThan(F32_TOL);
  });

  it.each([[1, 16], [9, 131]])('fusedAddRmsNorm adds in place then normalises (T=%i, H=%i)', (T, H) => {
    const rng = new Rng(30 + H);
    const x = rng.floats(T * H);
    const res = rng.floats(T * H);
    const w = rng.floats(H);
    const xt = f32(x, [T, H]);
    const rt = f32(res, [T, H]);
    b.fusedAddRmsNorm(xt, rt, f32(w, [H]), 1e-5);
    const sum = Array.from(x, (v, i) => v + res[i]);
    expect(relErr(host(rt), sum)).toBeLessThan(F32_TOL);
    expect(relErr(host(xt), rmsRef(sum, w, H, 1e-5))).toBeLessThan(F32_TOL);
  });

  it('norms reject a weight of the wrong width', () => {
    const x = f32(new Rng(2).floats(12), [3, 4]);
    expectKernelError(() => b.rmsNorm(b.empty([3, 4], 'f32'), x, f32(new Float32Array(5).fill(1), [5]), 1e-6), 'E_SHAPE', 'rmsNorm', 'weight');
    expectKernelError(() => b.fusedAddRmsNorm(x, b.empty([3, 5], 'f32'), f32(new Float32Array(4).fill(1), [4]), 1e-6), 'E_SHAPE', 'fusedAddRmsNorm', 'residual');
  });

  it.each([[64, 4, 2], [128, 8, 1], [96, 3, 3], [6, 1, 1]])('rotaryEmbedding rotates halves (D=%i, heads=%i, kv=%i)', (D, nH, nKv) => {
    const rng = new Rng(40 + D);
    const T = 7;
    const maxPos = 50;
    const cosSin = new Float32Array(maxPos * D);
    for (let p = 0; p < maxPos; p++) {
      for (let i = 0; i < D / 2; i++) {
        const angle = p / Math.pow(10000, (2 * i) / D);
        cosSin[p * D + i] = Math.cos(angle);
        cosSin[p * D + D / 2 + i] = Math.sin(angle);
      }
    }
    const positions = Array.from({ length: T }, () => rng.int(maxPos));
    const q = rng.floats(T * nH * D);
    const k = rng.floats(T * nKv * D);
    const rope = (x: Float32Array, heads: number) => {
      const out = Array.from(x);
      for (let t = 0; t < T; t++) {
        for (let h = 0; h < heads; h++) {
          const o = (t * heads + h) * D;
          for (let i = 0; i < D / 2; i++) {
            const c = cosSin[positions[t] * D + i];
            const s = cosSin[positions[t] * D + D / 2 + i];
            out[o + i] = x[o + i] * c - x[o + D / 2 + i] * s;
            out[o + D / 2 + i] = x[o + D / 2 + i] * c + x[o + i] * s;
          }
        }
      }
      return out;
    };
    const qt = f32(q, [T, nH * D]);
    const kt = f32(k, [T, nKv * D]);
    b.rotaryEmbedding(i32(positions), qt, kt, D, f32(cosSin, [maxPos, D]));
    expect(relErr(host(qt), rope(q, nH))).toBeLessThan(F32_TOL);
    expect(relErr(host(kt), rope(k, nKv))).toBeLessThan(F32_TOL);
    expectKernelError(
      () => b.rotaryEmbedding(i32([maxPos]), b.narrow(qt, 0, 1), b.narrow(kt, 0, 1), D, f32(cosSin, [maxPos, D])),
      'E_RANGE', 'rotaryEmbedding', 'positions',
    );
  });

  it.each([[1, 1], [3, 11], [17, 1000]])('siluAndMul matches the reference (T=%i, F=%i)', (T, F) => {
    const rng = new Rng(50 + F);
    const x = rng.floats(T * 2 * F, 4);
    const out = b.empty([T, F], 'f32');
    b.siluAndMul(out, f32(x, [T, 2 * F]));
    const ref: number[] = [];
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < F; i++) {
        const g = x[t * 2 * F + i];
        ref.push((g / (1 + Math.exp(-g))) * x[t * 2 * F + F + i]);
      }
    }
    expect(relErr(host(out), ref)).toBeLessThan(F32_TOL);
    expectKernelError(() => b.siluAndMul(b.empty([T, F + 1], 'f32'), f32(x, [T, 2 * F])), 'E_SHAPE', 'siluAndMul', 'out');
  });

  it('reshapeAndCache writes rows at their slots and skips negative slots', () => {
    const rng = new Rng(60);
    const [NB, BS, nKv, D] = [5, 8, 2, 16];
    const T = 11;
    const kc = f32(rng.floats(NB * BS * nKv * D), [NB, BS, nKv, D]);
    const vc = f32(rng.floats(NB * BS * nKv * D), [NB, BS, nKv, D]);
    const before = [host(kc), host(vc)];
    const slots = rng.shuffle(Array.from({ length: NB * BS }, (_, i) => i)).slice(0, T);
    slots[4] = -1;
    const k = rng.floats(T * nKv * D);
    const v = rng.floats(T * nKv * D);
    b.reshapeAndCache(f32(k, [T, nKv * D]), f32(v, [T, nKv * D]), kc, vc, i32(slots));
    const row = nKv * D;
    const expectCache = (cache: number[], src: Float32Array, orig: number[]) => {
      const ref = orig.slice();
      slots.forEach((s, t) => {
        if (s >= 0) for (let i = 0; i < row; i++) ref[s * row + i] = src[t * row + i];
      });
      expect(cache).toEqual(ref);
    };
    expectCache(host(kc), k, before[0]);
    expectCache(host(vc), v, before[1]);
    expectKernelError(
      () => b.reshapeAndCache(f32(k.subarray(0, row), [1, row]), f32(v.subarray(0, row), [1, row]), kc, vc, i32([NB * BS])),
      'E_RANGE', 'reshapeAndCache', 'slotMapping',
    );
    expectKernelError(
      () => b.reshapeAndCache(f32(k.subarray(0, row), [1, row]), f32(v.subarray(0, row), [1, row]), kc, b.empty([NB, BS, nKv, D + 1], 'f32'), i32([0])),
      'E_SHAPE', 'reshapeAndCache', 'vCache',
    );
  });

  it('copyBlocks copies each (src, dst) block in every cache', () => {
    const rng = new Rng(70);
    const shape = [6, 4, 2, 8];
    const per = 4 * 2 * 8;
    const data = [rng.floats(6 * per), rng.floats(6 * per)];
    const caches = data.map((d) => f32(d, shape));
    const pairs = [[0, 3], [5, 1], [2, 2]];
    b.copyBlocks(caches, b.fromHost(Int32Array.from(pairs.flat()), [3, 2], 'i32'));
    data.forEach((d, c) => {
      const ref = Array.from(d);
      for (const [s, t] of pairs) for (let i = 0; i < per; i++) ref[t * per + i] = d[s * per + i];
      expect(host(caches[c])).toEqual(ref);
    });
    expectKernelError(
      () => b.copyBlocks(caches, b.fromHost(Int32Array.from([0, 6]), [1, 2], 'i32')),
      'E_RANGE', 'copyBlocks', 'pairs',
    );
  });

  it('swapBlocks moves blocks to pinned host memory and back', () => {
    const rng = new Rng(80);
    const per = 16 * 2 * 4;
    const data = rng.floats(4 * per);
    const dev = f32(data, [4, 16, 2, 4]);
    const pinned = b.emptyPinned([3, 16, 2, 4], 'f32');
    b.swapBlocks(dev, pinned, b.fromHost(Int32Array.from([3, 0, 1, 2]), [2, 2], 'i32'));
    const h = b.toHost(pinned) as Float32Array;
    expect(h.subarray(0, per)).toEqual(data.subarray(3 * per, 4 * per));
    expect(h.subarray(2 * per, 3 * per)).toEqual(data.subarray(per, 2 * per));
    const back = b.empty([4, 16, 2, 4], 'f32');
    b.swapBlocks(pinned, back, b.fromHost(Int32Array.from([0, 1]), [1, 2], 'i32'));
    expect((b.toHost(back) as Float32Array).subarray(per, 2 * per)).toEqual(data.subarray(3 * per, 4 * per));
    expectKernelError(() => b.swapBlocks(dev, pinned, b.fromHost(Int32Array.from([0, 3]), [1, 2], 'i32')), 'E_RANGE', 'swapBlocks', 'pairs');
    expectKernelError(() => b.swapBlocks(dev, b.emptyPinned([3, 16, 2, 5], 'f32'), b.fromHost(Int32Array.from([0, 0]), [1, 2], 'i32')), 'E_SHAPE', 'swapBlocks', 'dst');
  });

  it('ops on empty batches are no-ops', () => {
    const out = b.empty([0, 8], 'f32');
    b.embedding(out, f32(new Rng(1).floats(16), [2, 8]), i32([]));
    b.rmsNorm(out, b.empty([0, 8], 'f32'), f32(new Rng(2).floats(8), [8]), 1e-6);
    b.siluAndMul(b.empty([0, 4], 'f32'), out);
    expect(out.numel).toBe(0);
  });

  it('rejects freed tensors and non-tensors in ops', () => {
    const x = f32(new Rng(3).floats(8), [2, 4]);
    const w = f32(new Rng(4).floats(4), [4]);
    w.free();
    expectKernelError(() => b.rmsNorm(b.empty([2, 4], 'f32'), x, w, 1e-6), 'E_FREED', 'rmsNorm', 'weight');
    expectKernelError(() => b.rmsNorm(b.empty([2, 4], 'f32'), x, 3 as never, 1e-6), 'E_ARG_TYPE', 'rmsNorm', 'weight');
    const w2 = f32(new Rng(5).floats(4), [4]);
    expectKernelError(() => b.rmsNorm(b.empty([2, 4], 'i32'), x, w2, 1e-6), 'E_DTYPE', 'rmsNorm', 'out');
    expectKernelError(() => b.rmsNorm(b.empty([2, 4], 'f32'), b.fromHost(new Int32Array(8), [2, 4], 'i32'), w2, 1e-6), 'E_DTYPE', 'rmsNorm', 'x');
  });
});
