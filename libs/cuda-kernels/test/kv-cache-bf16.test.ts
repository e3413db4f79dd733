// The CPU backend's bf16 KV cache: f32 keys and values are rounded to nearest even when written, widened exactly
// when read, and everything else runs in f32, so attention over a bf16 cache gives the bits attention gives over an
// f32 cache holding the rounded values.
import { getBackend, type Tensor } from '../src';
import { expectKernelError, F32_TOL, fromBf16, relErr, Rng, toBf16 } from './helpers';

const b = getBackend('cpu');
const words = (t: Tensor) => Array.from(new Uint32Array((b.toHost(t) as Float32Array).buffer));
const halves = (t: Tensor) => Array.from(b.toHost(t) as Uint16Array);
const i32 = (x: number[]) => b.fromHost(Int32Array.from(x), [x.length], 'i32');

// A paged cache of `contexts.length` sequences behind shuffled block tables, as bf16 bits and as their f32 widening.
function caches(rng: Rng, contexts: number[], BS: number, kvHeads: number, D: number) {
  const perSeq = contexts.map((c) => Math.ceil(c / BS));
  const numBlocks = perSeq.reduce((x, y) => x + y, 0) + 2;
  const maxBlocks = Math.max(...perSeq);
  const ids = rng.shuffle(Array.from({ length: numBlocks }, (_, i) => i));
  const tables = new Int32Array(contexts.length * maxBlocks);
  let next = 0;
  perSeq.forEach((n, s) => {
    for (let j = 0; j < n; j++) tables[s * maxBlocks + j] = ids[next++];
  });
  const shape = [numBlocks, BS, kvHeads, D];
  const k16 = toBf16(rng.floats(numBlocks * BS * kvHeads * D));
  const v16 = toBf16(rng.floats(numBlocks * BS * kvHeads * D));
  return {
    bf16: [b.fromHost(k16, shape, 'bf16'), b.fromHost(v16, shape, 'bf16')] as const,
    f32: [b.fromHost(fromBf16(k16), shape, 'f32'), b.fromHost(fromBf16(v16), shape, 'f32')] as const,
    k: fromBf16(k16),
    v: fromBf16(v16),
    tablesOf: (seqs: number[]) => b.fromHost(Int32Array.from(seqs.flatMap((s) => Array.from(tables.subarray(s * maxBlocks, (s + 1) * maxBlocks)))), [seqs.length, maxBlocks], 'i32'),
    lensOf: (seqs: number[]) => i32(seqs.map((s) => contexts[s])),
    slot: (s: number, t: number) => tables[s * maxBlocks + Math.floor(t / BS)] * BS + (t % BS),
  };
}

describe('bf16 KV cache on cpu', () => {
  const [BS, heads, kvHeads] = [16, 6, 2];
  const contexts = [1, 17, 64, 65, 130, 33];

  it.each([64, 72])('pagedAttentionDecode gives the bits of the f32 cache of the same values, alone and batched (D %i)', (D) => {
    const rng = new Rng(D);
    const c = caches(rng, contexts, BS, kvHeads, D);
    const width = heads * D;
    const q = rng.floats(contexts.length * width);
    const run = (cache: readonly [Tensor, Tensor], seqs: number[]) => {
      const out = b.empty([seqs.length, width], 'f32');
      const qs = Float32Array.from(seqs.flatMap((s) => Array.from(q.subarray(s * width, (s + 1) * width))));
      b.pagedAttentionDecode(out, b.fromHost(qs, [seqs.length, width], 'f32'), cache[0], cache[1], c.tablesOf(seqs), c.lensOf(seqs), 0.125);
      return words(out);
    };
    const all = contexts.map((_, s) => s);
    const batched = run(c.bf16, all);
    expect(batched).toEqual(run(c.f32, all));
    all.forEach((s) => expect(run(c.bf16, [s])).toEqual(batched.slice(s * width, (s + 1) * width)));

    // and the float64 reference of attention over those values
    const ref = new Float64Array(contexts.length * width);
    contexts.forEach((ctx, s) => {
      for (let h = 0; h < heads; h++) {
        const kvh = Math.floor(h / (heads / kvHeads));
        const qo = (s * heads + h) * D;
        const at = (t: number) => (c.slot(s, t) * kvHeads + kvh) * D;
        const scores = Array.from({ length: ctx }, (_, t) => {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q[qo + d] * c.k[at(t) + d];
          return dot * 0.125;
        });
        const m = Math.max(...scores);
        const p = scores.map((x) => Math.exp(x - m));
        const z = p.reduce((x, y) => x + y, 0);
        for (let t = 0; t < ctx; t++) for (let d = 0; d < D; d++) ref[qo + d] += (p[t] / z) * c.v[at(t) + d];
      }
    });
    expect(relErr(new Float32Array(new Uint32Array(batched).buffer), ref)).toBeLessThan(F32_TOL);
  });

  it('prefillAttention gives the bits of the f32 cache of the same values', () => {
    const D = 64;
    const rng = new Rng(11);
    const c = caches(rng, [40, 70], BS, kvHeads, D);
    const width = heads * D;
    const qLens = [40, 5];
    const T = qLens[0] + qLens[1];
    const q = b.fromHost(rng.floats(T * width), [T, width], 'f32');
    const run = (cache: readonly [Tensor, Tensor]) => {
      const out = b.empty([T, width], 'f32');
      b.prefillAttention(out, q, cache[0], cache[1], i32([0, qLens[0], T]), c.tablesOf([0, 1]), c.lensOf([0, 1]), 0.1);
      return words(out);
    };
    expect(run(c.bf16)).toEqual(run(c.f32));
  });

  it('reshapeAndCache and splitQkvRotaryCache round f32 rows to nearest even, and agree bit for bit', () => {
    const [NB, nH, D, T] = [3, 4, 8, 5];
    const rng = new Rng(21);
    const kvW = kvHeads * D;
    const shape = [NB, BS, kvHeads, D];
    const [q, k, v] = [rng.floats(T * nH * D), rng.floats(T * kvW), rng.floats(T * kvW)];
    const positions = [3, 1, 4, 1, 5];
    const slots = [7, -1, 0, 33, 20];
    const cs = new Float32Array(8 * D);
    for (let p = 0; p < 8; p++) for (let i = 0; i < D / 2; i++) {
      cs[p * D + i] = Math.cos(p / 10 ** (i / 4));
      cs[p * D + D / 2 + i] = Math.sin(p / 10 ** (i / 4));
    }
    const cosSin = b.fromHost(cs, [8, D], 'f32');
    const zeros = () => [b.fromHost(new Uint16Array(NB * BS * kvW), shape, 'bf16'), b.fromHost(new Uint16Array(NB * BS * kvW), shape, 'bf16')];

    const kU = b.fromHost(k, [T, kvW], 'f32');
    b.rotaryEmbedding(i32(positions), b.fromHost(q, [T, nH * D], 'f32'), kU, D, cosSin);
    const [kcU, vcU] = zeros();
    b.reshapeAndCache(kU, b.fromHost(v, [T, kvW], 'f32'), kcU, vcU, i32(slots));
    const rotatedK = b.toHost(kU) as Float32Array;
    const expected = (src: Float32Array) => {
      const out = new Uint16Array(NB * BS * kvW);
      slots.forEach((s, t) => s >= 0 && out.set(toBf16(src.slice(t * kvW, (t + 1) * kvW)), s * kvW));
      return Array.from(out);
    };
    expect(halves(kcU)).toEqual(expected(rotatedK));
    expect(halves(vcU)).toEqual(expected(v));

    const qkv = new Float32Array(T * (nH * D + 2 * kvW));
    for (let t = 0; t < T; t++) {
      const row = t * (nH * D + 2 * kvW);
      qkv.set(q.subarray(t * nH * D, (t + 1) * nH * D), row);
      qkv.set(k.subarray(t * kvW, (t + 1) * kvW), row + nH * D);
      qkv.set(v.subarray(t * kvW, (t + 1) * kvW), row + nH * D + kvW);
    }
    const [kcF, vcF] = zeros();
    b.splitQkvRotaryCache(b.empty([T, nH * D], 'f32'), b.fromHost(qkv, [T, qkv.length / T], 'f32'), i32(positions), cosSin, kcF, vcF, i32(slots));
    expect(halves(kcF)).toEqual(halves(kcU));
    expect(halves(vcF)).toEqual(halves(vcU));
  });

  it('takes only f32 activations against a bf16 cache, and no f16 cache', () => {
    const D = 8;
    const shape = [2, BS, kvHeads, D];
    const kc = b.fromHost(new Uint16Array(2 * BS * kvHeads * D), shape, 'bf16');
    const vc = b.fromHost(new Uint16Array(2 * BS * kvHeads * D), shape, 'bf16');
    const q16 = b.fromHost(new Uint16Array(heads * D), [1, heads * D], 'bf16');
    expectKernelError(() => b.pagedAttentionDecode(b.empty([1, heads * D], 'bf16'), q16, kc, vc, b.fromHost(Int32Array.from([0]), [1, 1], 'i32'), i32([1]), 1),
      'E_DTYPE', 'pagedAttentionDecode', 'q');
    const h16 = b.fromHost(new Uint16Array(2 * BS * kvHeads * D), shape, 'f16');
    const q = b.fromHost(new Float32Array(heads * D), [1, heads * D], 'f32');
    const e = expectKernelError(() => b.pagedAttentionDecode(b.empty([1, heads * D], 'f32'), q, h16, h16, b.fromHost(Int32Array.from([0]), [1, 1], 'i32'), i32([1]), 1),
      'E_DTYPE', 'pagedAttentionDecode', 'kCache');
    expect(e.message).toContain('f32 or bf16 on the cpu backend');
    const f32Cache = b.fromHost(new Float32Array(2 * BS * kvHeads * D), shape, 'f32');
    expectKernelError(() => b.reshapeAndCache(b.fromHost(new Uint16Array(kvHeads * D), [1, kvHeads * D], 'bf16'),
      b.fromHost(new Uint16Array(kvHeads * D), [1, kvHeads * D], 'bf16'), f32Cache, f32Cache, i32([0])), 'E_DTYPE', 'reshapeAndCache', 'k');
  });
});
