// The ops the engine's decode hot path is built on: incremental device updates (scatter), block-table row
// gathers (i32 embedding), the fused QKV split + rotary + cache write, and dtype views for one-read results.
import type { Backend, DType, Tensor } from '../src';
import { backendFor, devices, expectKernelError, Rng } from './helpers';

/** cos in the first half of each row, sin in the second, as the engine builds the table. */
function cosSinTable(maxPos: number, D: number): Float32Array {
  const cs = new Float32Array(maxPos * D);
  for (let p = 0; p < maxPos; p++) {
    for (let i = 0; i < D / 2; i++) {
      const angle = p / Math.pow(10000, (2 * i) / D);
      cs[p * D + i] = Math.cos(angle);
      cs[p * D + D / 2 + i] = Math.sin(angle);
    }
  }
  return cs;
}

/** Random finite 16-bit floats as bit patterns: magnitudes about 2^-4 .. 2^4. */
function halfBits(rng: Rng, n: number, dtype: 'f16' | 'bf16'): Uint16Array {
  const [bias, mant] = dtype === 'f16' ? [15, 10] : [127, 7];
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const exp = bias - 4 + rng.int(9);
    out[i] = (rng.int(2) << 15) | (exp << mant) | rng.int(1 << mant);
  }
  return out;
}

/** Host data of a dtype for n random values: f32 values, or 16-bit patterns. */
function randomData(rng: Rng, n: number, dtype: DType): Float32Array | Uint16Array {
  return dtype === 'f32' ? rng.floats(n) : halfBits(rng, n, dtype as 'f16' | 'bf16');
}

/** The bits of a tensor, so equality is bitwise (distinguishes -0 and +0, compares NaN payloads). */
function bits(b: Backend, t: Tensor): number[] {
  const h = b.toHost(t) as Float32Array | Uint16Array; // by dtype: the addon's arrays fail jest's instanceof
  return Array.from(t.dtype === 'f32' ? new Uint32Array(h.buffer, h.byteOffset, h.length) : h);
}

/** Parts [T, widths[i]] side by side as one [T, Σ widths] host array (row t = part 0's row t, part 1's, ...). */
function concatRows<A extends Float32Array | Uint16Array>(parts: A[], widths: number[], T: number): A {
  const W = widths.reduce((x, y) => x + y, 0);
  const out = new (parts[0].constructor as new (n: number) => A)(T * W);
  for (let t = 0; t < T; t++) {
    let o = t * W;
    parts.forEach((p, i) => {
      out.set(p.subarray(t * widths[i], (t + 1) * widths[i]), o);
      o += widths[i];
    });
  }
  return out;
}

describe.each(devices())('hot-path ops on %s', (device) => {
  const b = backendFor(device);
  const i32 = (data: number[], shape = [data.length]) => b.fromHost(Int32Array.from(data), shape, 'i32');
  const ints = (t: Tensor) => Array.from(b.toHost(t) as Int32Array);

  describe('scatter', () => {
    it('writes src[i] at flat index indices[i] of a dst of any shape and skips negative indices', () => {
      const before = Array.from({ length: 12 }, (_, i) => 100 + i);
      const dst = i32(before, [3, 4]);
      b.scatter(dst, i32([5, -1, 11, 0, -7]), i32([-50, 999, 7, 1 << 30, 998]));
      const ref = before.slice();
      ref[5] = -50;
      ref[11] = 7;
      ref[0] = 1 << 30;
      expect(ints(dst)).toEqual(ref);
    });

    it('places sampled tokens into the next step\'s token-id input without a host round trip', () => {
      const sampled = b.empty([3], 'i32');
      b.argmax(sampled, b.fromHost(Float32Array.from([0, 9, 1, 7, 0, 0, 0, 0, 3]), [3, 3], 'f32'));
      const tokenIds = i32([11, 12, 13, 14, 15]); // decode rows 1, 3, 4 of a mixed batch take the sampled ids
      b.scatter(tokenIds, i32([1, 3, 4]), sampled);
      expect(ints(tokenIds)).toEqual([11, 1, 13, 0, 2]);
    });

    it('an empty index list leaves dst unchanged', () => {
      const dst = i32([1, 2, 3]);
      b.scatter(dst, i32([]), i32([]));
      expect(ints(dst)).toEqual([1, 2, 3]);
    });

    // CPU validates before any write; CUDA's kernel writes the good indices, skips the bad one, then reports it.
    it('rejects indices past dst; the device has skipped them when it reports', () => {
      const dst = i32([1, 2, 3, 4], [2, 2]);
      expectKernelError(() => b.scatter(dst, i32([0, 4]), i32([9, 8])), 'E_RANGE', 'scatter', 'indices');
      expect(ints(dst)).toEqual(device === 'cpu' ? [1, 2, 3, 4] : [9, 2, 3, 4]);
    });

    it('rejects other dtypes and mismatched lengths', () => {
      const dst = i32([0, 0, 0]);
      expectKernelError(() => b.scatter(b.empty([3], 'f32'), i32([0]), i32([1])), 'E_DTYPE', 'scatter', 'dst');
      expectKernelError(() => b.scatter(dst, b.fromHost(BigInt64Array.from([0n]), [1], 'i64'), i32([1])), 'E_DTYPE', 'scatter', 'indices');
      expectKernelError(() => b.scatter(dst, i32([0]), b.fromHost(Float32Array.from([1]), [1], 'f32')), 'E_DTYPE', 'scatter', 'src');
      expectKernelError(() => b.scatter(dst, i32([0, 1]), i32([1])), 'E_SHAPE', 'scatter', 'src');
      expectKernelError(() => b.scatter(dst, i32([0, 1], [1, 2]), i32([1, 2])), 'E_SHAPE', 'scatter', 'indices');
    });
  });

  describe('embedding of an i32 table', () => {
    it('gathers whole integer rows (block-table rows of the step\'s sequences)', () => {
      const [maxSeqs, W] = [6, 7];
      const rng = new Rng(7);
      const table = Array.from({ length: maxSeqs * W }, () => rng.int(2 ** 31) - 2 ** 30);
      const rows = [4, 0, 4, 5];
      const out = b.empty([rows.length, W], 'i32');
      b.embedding(out, i32(table, [maxSeqs, W]), i32(rows));
      expect(ints(out)).toEqual(rows.flatMap((r) => table.slice(r * W, (r + 1) * W)));
    });

    it('gathers the first entries of each row into a narrower out, and rejects a wider or empty one', () => {
      const [maxSeqs, W, width] = [5, 9, 3];
      const rng = new Rng(9);
      const table = Array.from({ length: maxSeqs * W }, () => rng.int(1000));
      const rows = [2, 4, 0];
      const out = b.empty([rows.length, width], 'i32');
      b.embedding(out, i32(table, [maxSeqs, W]), i32(rows));
      expect(ints(out)).toEqual(rows.flatMap((r) => table.slice(r * W, r * W + width)));
      expectKernelError(() => b.embedding(b.empty([1, W + 1], 'i32'), i32(table, [maxSeqs, W]), i32([0])), 'E_SHAPE', 'embedding', 'out');
      expectKernelError(() => b.embedding(b.empty([1, 0], 'i32'), i32(table, [maxSeqs, W]), i32([0])), 'E_SHAPE', 'embedding', 'out');
    });

    it('keeps f32 gathers bit-exact and rejects mixed dtypes', () => {
      const rng = new Rng(8);
      const data = rng.floats(12);
      data[1] = -0;
      const table = b.fromHost(data, [4, 3], 'f32');
      const out = b.empty([2, 3], 'f32');
      b.embedding(out, table, i32([3, 0]));
      const ref = new Uint32Array(Float32Array.from([...data.subarray(9, 12), ...data.subarray(0, 3)]).buffer);
      expect(bits(b, out)).toEqual(Array.from(ref));
      expectKernelError(() => b.embedding(b.empty([1, 3], 'f32'), i32([1, 2, 3], [1, 3]), i32([0])), 'E_DTYPE', 'embedding', 'out');
      expectKernelError(
        () => b.embedding(b.empty([1, 1], 'i64'), b.fromHost(BigInt64Array.from([1n]), [1, 1], 'i64'), i32([0])),
        'E_DTYPE', 'embedding', 'table',
      );
      expectKernelError(() => b.embedding(b.empty([1, 3], 'i32'), i32([1, 2, 3], [1, 3]), i32([1])), 'E_RANGE', 'embedding', 'ids');
    });
  });

  describe('splitQkvRotaryCache', () => {
    // [D, nH, nKv, T]: GQA, MHA, MQA, a tiny head dim; slots include -1 (padding) rows.
    const shapes: [number, number, number, number][] = [[64, 4, 2, 9], [128, 8, 8, 3], [32, 4, 1, 1], [6, 3, 3, 5]];
    const floatDtypes: DType[] = device === 'cpu' ? ['f32'] : ['f32', 'bf16', 'f16'];
    const cases = floatDtypes.flatMap((dt) => shapes.map((s) => [dt, ...s] as [DType, number, number, number, number]));

    it.each(cases)('%s: equals rotaryEmbedding + reshapeAndCache bit for bit (D=%i, nH=%i, nKv=%i, T=%i)', (dt, D, nH, nKv, T) => {
      const rng = new Rng(D * 31 + nH * 7 + nKv + T);
      const [NB, BS, maxPos] = [4, 4, 40];
      const [qW, kvW] = [nH * D, nKv * D];
      const cacheShape = [NB, BS, nKv, D];
      const q = randomData(rng, T * qW, dt);
      const k = randomData(rng, T * kvW, dt);
      const v = randomData(rng, T * kvW, dt);
      const cacheInit = [randomData(rng, NB * BS * kvW, dt), randomData(rng, NB * BS * kvW, dt)];
      const positions = Array.from({ length: T }, () => 1 + rng.int(maxPos - 1));
      const slots = rng.shuffle(Array.from({ length: NB * BS }, (_, i) => i)).slice(0, T);
      if (T > 1) slots[1] = -1;
      const cosSin = b.fromHost(cosSinTable(maxPos, D), [maxPos, D], 'f32');

      const qU = b.fromHost(q, [T, qW], dt);
      const kU = b.fromHost(k, [T, kvW], dt);
      const [kcU, vcU] = cacheInit.map((c) => b.fromHost(c, cacheShape, dt));
      b.rotaryEmbedding(i32(positions), qU, kU, D, cosSin);
      b.reshapeAndCache(kU, b.fromHost(v, [T, kvW], dt), kcU, vcU, i32(slots));

      const qkv = b.fromHost(concatRows([q, k, v], [qW, kvW, kvW], T), [T, qW + 2 * kvW], dt);
      const qF = b.empty([T, qW], dt);
      const [kcF, vcF] = cacheInit.map((c) => b.fromHost(c, cacheShape, dt));
      b.splitQkvRotaryCache(qF, qkv, i32(positions), cosSin, kcF, vcF, i32(slots));

      expect(bits(b, qF)).toEqual(bits(b, qU));
      expect(bits(b, kcF)).toEqual(bits(b, kcU));
      expect(bits(b, vcF)).toEqual(bits(b, vcU));
      // Not vacuous: q was rotated (positions > 0) and the slotted rows of the caches changed.
      expect(bits(b, qF)).not.toEqual(bits(b, b.fromHost(q, [T, qW], dt)));
      expect(bits(b, kcF)).not.toEqual(bits(b, b.fromHost(cacheInit[0], cacheShape, dt)));
    });

    it('validates shapes, dtypes, positions and slots', () => {
      const [D, nH, nKv, T] = [8, 2, 1, 2];
      const f32 = (shape: number[]) => b.fromHost(new Rng(shape.length).floats(shape.reduce((x, y) => x * y, 1)), shape, 'f32');
      const kc = f32([2, 4, nKv, D]);
      const vc = f32([2, 4, nKv, D]);
      const cs = b.fromHost(cosSinTable(10, D), [10, D], 'f32');
      const qkv = f32([T, (nH + 2 * nKv) * D]);
      const q = b.empty([T, nH * D], 'f32');
      const call = (o: Partial<Record<'q' | 'qkv' | 'pos' | 'cs' | 'kc' | 'vc' | 'slots', Tensor>>) =>
        () => b.splitQkvRotaryCache(o.q ?? q, o.qkv ?? qkv, o.pos ?? i32([0, 9]), o.cs ?? cs, o.kc ?? kc, o.vc ?? vc, o.slots ?? i32([7, -1]));
      call({})(); // the valid call runs
      expectKernelError(call({ q: b.empty([T, nH * D + 1], 'f32') }), 'E_SHAPE', 'splitQkvRotaryCache', 'q');
      expectKernelError(call({ qkv: f32([T, 2 * nKv * D]) }), 'E_SHAPE', 'splitQkvRotaryCache', 'qkv');
      expectKernelError(call({ qkv: f32([T, (nH + 2 * nKv) * D + 4]) }), 'E_SHAPE', 'splitQkvRotaryCache', 'qkv');
      expectKernelError(call({ qkv: f32([T + 1, (nH + 2 * nKv) * D]) }), 'E_SHAPE', 'splitQkvRotaryCache', 'qkv');
      expectKernelError(call({ cs: b.fromHost(cosSinTable(10, 2 * D), [10, 2 * D], 'f32') }), 'E_SHAPE', 'splitQkvRotaryCache', 'kCache');
      expectKernelError(call({ vc: f32([3, 4, nKv, D]) }), 'E_SHAPE', 'splitQkvRotaryCache', 'vCache');
      expectKernelError(call({ pos: i32([0]) }), 'E_SHAPE', 'splitQkvRotaryCache', 'qkv');
      expectKernelError(call({ slots: i32([0]) }), 'E_SHAPE', 'splitQkvRotaryCache', 'slotMapping');
      expectKernelError(call({ slots: b.fromHost(Float32Array.from([0, 1]), [2], 'f32') }), 'E_DTYPE', 'splitQkvRotaryCache', 'slotMapping');
      expectKernelError(call({ q: b.empty([T, nH * D], 'i32') }), 'E_DTYPE', 'splitQkvRotaryCache', 'q');
      expectKernelError(call({ pos: i32([0, 10]) }), 'E_RANGE', 'splitQkvRotaryCache', 'positions');
      expectKernelError(call({ slots: i32([8, 0]) }), 'E_RANGE', 'splitQkvRotaryCache', 'slotMapping');
      if (device === 'cpu') { // f16 caches are CUDA-only (the cpu's 16-bit cache is bf16: kv-cache-bf16.test.ts)
        const h = (shape: number[]) => b.fromHost(new Uint16Array(shape.reduce((x, y) => x * y, 1)), shape, 'f16');
        expectKernelError(call({ kc: h([2, 4, nKv, D]), vc: h([2, 4, nKv, D]) }), 'E_DTYPE', 'splitQkvRotaryCache', 'kCache');
      }
    });
  });

  describe('copy', () => {
    it('copies a device tensor into pinned host memory in stream order; an event marks when it can be read', () => {
      const src = b.fromHost(Int32Array.from([5, -7, 9, 11]), [4], 'i32');
      const pinned = b.emptyPinned([4], 'i32');
      b.copy(pinned, src);
      const ev = b.createEvent();
      b.recordEvent(ev);
      b.waitEvent(ev);
      b.destroyEvent(ev);
      expect(ints(pinned)).toEqual([5, -7, 9, 11]);
      const back = b.empty([2, 2], 'i32');
      b.copy(back, pinned);
      expect(ints(back)).toEqual([5, -7, 9, 11]);
    });

    it('rejects a different dtype or element count', () => {
      const src = b.fromHost(Int32Array.from([1, 2]), [2], 'i32');
      expectKernelError(() => b.copy(b.empty([2], 'f32'), src), 'E_DTYPE', 'copy', 'dst');
      expectKernelError(() => b.copy(b.empty([3], 'i32'), src), 'E_SHAPE', 'copy', 'dst');
    });
  });

  describe('view with a dtype', () => {
    it('reinterprets the same bytes: f32 written through one view reads back as its i32 bits', () => {
      const buf = b.empty([8], 'i32');
      const asF32 = b.view(buf, [2, 4], 'f32');
      expect([asF32.dtype, asF32.shape]).toEqual(['f32', [2, 4]]);
      const values = Float32Array.from([1.5, -2, 0, -0, 3.25e-20, 65504, -1e30, 0.1]);
      b.copyFromHost(asF32, values);
      expect(ints(b.view(asF32, [8], 'i32'))).toEqual(Array.from(new Int32Array(values.buffer)));
      expect(ints(buf)).toEqual(Array.from(new Int32Array(values.buffer)));
    });

    it('lets one buffer carry sampled ids and their logprobs back in a single toHost', () => {
      const B = 3;
      const logits = b.fromHost(Float32Array.from([0, 2, 1, 5, 0, -1, 0.5, 0.25, 3]), [B, 3], 'f32');
      const out = b.empty([2, B], 'i32'); // row 0: token ids, row 1: f32 logprobs
      const ids = b.view(b.narrow(out, 0, 1), [B]);
      b.argmax(ids, logits);
      b.gatherLogProbs(b.view(b.narrow(out, 1, 2), [B], 'f32'), logits, ids);
      const host = b.toHost(out) as Int32Array;
      expect(Array.from(host.subarray(0, B))).toEqual([1, 0, 2]);
      const logprobs = new Float32Array(host.buffer, host.byteOffset + B * 4, B);
      const lse = (r: number[]) => Math.log(r.reduce((s, x) => s + Math.exp(x), 0));
      const refs = [2 - lse([0, 2, 1]), 5 - lse([5, 0, -1]), 3 - lse([0.5, 0.25, 3])];
      refs.forEach((r, i) => expect(logprobs[i]).toBeCloseTo(r, 5));
    });

    it('rejects a dtype of another element size, an unknown dtype and a numel mismatch', () => {
      const t = b.empty([4], 'f32');
      expectKernelError(() => b.view(t, [4], 'i64'), 'E_DTYPE', 'view', 'dtype');
      expectKernelError(() => b.view(t, [4], 'bf16'), 'E_DTYPE', 'view', 'dtype');
      expectKernelError(() => b.view(t, [4], 'f64' as DType), 'E_DTYPE', 'view', 'dtype');
      expectKernelError(() => b.view(t, [5], 'i32'), 'E_SHAPE', 'view', 'shape');
      expect(b.view(b.empty([2], 'f16'), [2], 'bf16').dtype).toBe('bf16');
      expect(b.view(t, [2, 2]).dtype).toBe('f32');
    });

    it('reads bytes as a dtype of another element size when the view covers them exactly from an aligned offset', () => {
      const buf = b.empty([6], 'i32');
      b.copyFromHost(buf, new Int32Array([7, 0, -1, -1, 5, 0]));
      expect(Array.from(b.toHost(b.view(b.narrow(buf, 0, 4), [2], 'i64')) as BigInt64Array)).toEqual([7n, -1n]);
      expect(Array.from(b.toHost(b.view(b.narrow(buf, 4, 6), [1], 'i64')) as BigInt64Array)).toEqual([5n]);
      expectKernelError(() => b.view(b.narrow(buf, 1, 3), [1], 'i64'), 'E_DTYPE', 'view', 'dtype');
      expectKernelError(() => b.view(b.narrow(buf, 0, 3), [1], 'i64'), 'E_DTYPE', 'view', 'dtype');
    });
  });
});

// The fused op's contract on CPU, whose GEMM computes each output element the same way whatever N: one GEMM
// over the concatenated weights, then the split, equals three GEMMs → rotaryEmbedding → reshapeAndCache.
describe('splitQkvRotaryCache after one fused QKV GEMM on cpu', () => {
  const b = backendFor('cpu');
  it.each([[1, 64, 4, 2], [2, 32, 2, 2], [13, 64, 8, 2], [40, 16, 4, 1]])('T=%i, D=%i, nH=%i, nKv=%i', (T, D, nH, nKv) => {
    const rng = new Rng(T * 101 + D);
    const [H, NB, BS, maxPos] = [96, 16, 4, 64];
    const [qW, kvW] = [nH * D, nKv * D];
    const f32 = (data: Float32Array, shape: number[]) => b.fromHost(data, shape, 'f32');
    const x = f32(rng.floats(T * H), [T, H]);
    const [wq, wk, wv] = [qW, kvW, kvW].map((n) => rng.floats(n * H, 0.1));
    const cacheShape = [NB, BS, nKv, D];
    const cacheInit = [rng.floats(NB * BS * kvW), rng.floats(NB * BS * kvW)];
    const positions = b.fromHost(Int32Array.from({ length: T }, () => rng.int(maxPos)), [T], 'i32');
    const slotList = rng.shuffle(Array.from({ length: NB * BS }, (_, i) => i)).slice(0, T);
    slotList.forEach((_, i) => { if (i % 3 === 2) slotList[i] = -1; });
    const slots = b.fromHost(Int32Array.from(slotList), [T], 'i32');
    const cosSin = f32(cosSinTable(maxPos, D), [maxPos, D]);

    const [qU, kU, vU] = [qW, kvW, kvW].map((n) => b.empty([T, n], 'f32'));
    b.gemm(qU, x, f32(wq, [qW, H]));
    b.gemm(kU, x, f32(wk, [kvW, H]));
    b.gemm(vU, x, f32(wv, [kvW, H]));
    b.rotaryEmbedding(positions, qU, kU, D, cosSin);
    const [kcU, vcU] = cacheInit.map((c) => f32(c, cacheShape));
    b.reshapeAndCache(kU, vU, kcU, vcU, slots);

    const wqkv = Float32Array.from([...wq, ...wk, ...wv]); // rows of the three weights, stacked
    const qkv = b.empty([T, qW + 2 * kvW], 'f32');
    b.gemm(qkv, x, f32(wqkv, [qW + 2 * kvW, H]));
    const qF = b.empty([T, qW], 'f32');
    const [kcF, vcF] = cacheInit.map((c) => f32(c, cacheShape));
    b.splitQkvRotaryCache(qF, qkv, positions, cosSin, kcF, vcF, slots);

    expect(bits(b, qF)).toEqual(bits(b, qU));
    expect(bits(b, kcF)).toEqual(bits(b, kcU));
    expect(bits(b, vcF)).toEqual(bits(b, vcU));
    expect(bits(b, kcF)).not.toEqual(Array.from(new Uint32Array(cacheInit[0].buffer)));
  });
});
