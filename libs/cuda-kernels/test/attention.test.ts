import type { Backend, Tensor } from '../src';
import { backendFor, CUDA_HEAD_DIMS, devices, expectKernelError, F32_TOL, relErr, Rng } from './helpers';

interface Case {
  blockSize: number;
  headDim: number;
  heads: number;
  kvHeads: number;
  seqs: { qLen: number; ctx: number }[];
}

// Logical K/V per sequence [ctx, kvHeads, D], scattered into a paged cache through shuffled block tables.
function buildCache(b: Backend, rng: Rng, c: Case) {
  const { blockSize: BS, headDim: D, kvHeads } = c;
  const row = kvHeads * D;
  const perSeq = c.seqs.map((s) => Math.ceil(s.ctx / BS));
  const numBlocks = perSeq.reduce((x, y) => x + y, 0) + 3;
  const maxBlocks = Math.max(1, ...perSeq) + 1;
  const ids = rng.shuffle(Array.from({ length: numBlocks }, (_, i) => i));
  const kCache = rng.floats(numBlocks * BS * row);
  const vCache = rng.floats(numBlocks * BS * row);
  const tables = new Int32Array(c.seqs.length * maxBlocks).fill(1 << 30); // unused entries are never read
  const keys: Float32Array[] = [];
  const values: Float32Array[] = [];
  let next = 0;
  c.seqs.forEach((s, i) => {
    for (let j = 0; j < perSeq[i]; j++) tables[i * maxBlocks + j] = ids[next++];
    const k = rng.floats(s.ctx * row);
    const v = rng.floats(s.ctx * row);
    for (let t = 0; t < s.ctx; t++) {
      const slot = tables[i * maxBlocks + Math.floor(t / BS)] * BS + (t % BS);
      kCache.set(k.subarray(t * row, (t + 1) * row), slot * row);
      vCache.set(v.subarray(t * row, (t + 1) * row), slot * row);
    }
    keys.push(k);
    values.push(v);
  });
  const shape = [numBlocks, BS, kvHeads, D];
  return {
    keys,
    values,
    numBlocks,
    maxBlocks,
    tablesHost: tables,
    kCache: b.fromHost(kCache, shape, 'f32'),
    vCache: b.fromHost(vCache, shape, 'f32'),
    blockTables: b.fromHost(tables, [c.seqs.length, maxBlocks], 'i32'),
    contextLens: b.fromHost(Int32Array.from(c.seqs, (s) => s.ctx), [c.seqs.length], 'i32'),
  };
}

// Float64 causal attention of query rows (positions ctx - qLen .. ctx - 1) over the sequence's keys.
function attentionRef(c: Case, q: Float32Array, keys: Float32Array[], values: Float32Array[], scale: number): Float64Array {
  const { headDim: D, heads, kvHeads } = c;
  const group = heads / kvHeads;
  const total = c.seqs.reduce((x, s) => x + s.qLen, 0);
  const out = new Float64Array(total * heads * D);
  let row = 0;
  c.seqs.forEach((s, b) => {
    for (let i = 0; i < s.qLen; i++, row++) {
      const pos = s.ctx - s.qLen + i;
      for (let h = 0; h < heads; h++) {
        const kvh = Math.floor(h / group);
        const qo = (row * heads + h) * D;
        const scores: number[] = [];
        for (let t = 0; t <= pos; t++) {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q[qo + d] * keys[b][(t * kvHeads + kvh) * D + d];
          scores.push(dot * scale);
        }
        const m = Math.max(...scores);
        const p = scores.map((x) => Math.exp(x - m));
        const z = p.reduce((x, y) => x + y, 0);
        for (let t = 0; t <= pos; t++) {
          for (let d = 0; d < D; d++) out[qo + d] += (p[t] / z) * values[b][(t * kvHeads + kvh) * D + d];
        }
      }
    }
  });
  return out;
}

const decodeCases: [string, Case][] = [
  ['MHA, block 16, D 128', { blockSize: 16, headDim: 128, heads: 4, kvHeads: 4, seqs: [1, 17, 50, 33].map((ctx) => ({ qLen: 1, ctx })) }],
  ['GQA 4, block 8, D 64', { blockSize: 8, headDim: 64, heads: 8, kvHeads: 2, seqs: [7, 100].map((ctx) => ({ qLen: 1, ctx })) }],
  ['GQA 8, block 32, D 96', { blockSize: 32, headDim: 96, heads: 16, kvHeads: 2, seqs: [65, 1, 31].map((ctx) => ({ qLen: 1, ctx })) }],
  ['MQA, block 16, D 40', { blockSize: 16, headDim: 40, heads: 4, kvHeads: 1, seqs: [{ qLen: 1, ctx: 23 }] }],
  ['one sequence, one token', { blockSize: 16, headDim: 64, heads: 2, kvHeads: 2, seqs: [{ qLen: 1, ctx: 1 }] }],
  ['GQA 3 (the bench Llama), block 16, D 64', { blockSize: 16, headDim: 64, heads: 12, kvHeads: 4, seqs: [130, 1, 64, 77].map((ctx) => ({ qLen: 1, ctx })) }],
  ['GQA 5 (a pack of 4 rows, then 1), block 16, D 72', { blockSize: 16, headDim: 72, heads: 10, kvHeads: 2, seqs: [90, 5].map((ctx) => ({ qLen: 1, ctx })) }],
];

const prefillCases: [string, Case][] = [
  ['MHA, block 16, D 128, cached prefixes', { blockSize: 16, headDim: 128, heads: 2, kvHeads: 2, seqs: [{ qLen: 5, ctx: 5 }, { qLen: 3, ctx: 20 }, { qLen: 1, ctx: 1 }, { qLen: 19, ctx: 40 }] }],
  ['GQA 4, block 8, D 64', { blockSize: 8, headDim: 64, heads: 8, kvHeads: 2, seqs: [{ qLen: 37, ctx: 37 }, { qLen: 9, ctx: 30 }] }],
  ['GQA 8, block 32, D 96', { blockSize: 32, headDim: 96, heads: 8, kvHeads: 1, seqs: [{ qLen: 33, ctx: 70 }, { qLen: 2, ctx: 2 }] }],
  ['one sequence, one token', { blockSize: 16, headDim: 64, heads: 4, kvHeads: 4, seqs: [{ qLen: 1, ctx: 1 }] }],
  ['odd head dim 72, block 16', { blockSize: 16, headDim: 72, heads: 6, kvHeads: 3, seqs: [{ qLen: 18, ctx: 18 }] }],
  ['GQA 5 (a pack of 4 rows, then 1), block 16, D 72', { blockSize: 16, headDim: 72, heads: 10, kvHeads: 2, seqs: [{ qLen: 21, ctx: 30 }, { qLen: 1, ctx: 70 }] }],
];

describe.each(devices())('attention on %s', (device) => {
  const b = backendFor(device);
  // Where the device has no kernel for a case's head dim, the call must fail as E_UNSUPPORTED naming it.
  const runs = (headDim: number) => device === 'cpu' || CUDA_HEAD_DIMS.includes(headDim);
  const expectUnsupported = (op: string, headDim: number, call: () => void) => {
    const e = expectKernelError(call, 'E_UNSUPPORTED', op, '');
    expect(e.message).toContain(`head dim ${headDim}`);
  };

  it.each(decodeCases)('pagedAttentionDecode matches the float64 reference: %s', (_name, c) => {
    const rng = new Rng(c.blockSize * 7 + c.headDim + c.seqs.length);
    const cache = buildCache(b, rng, c);
    const B = c.seqs.length;
    const width = c.heads * c.headDim;
    const q = rng.floats(B * width);
    const out = b.empty([B, width], 'f32');
    const scale = 1 / Math.sqrt(c.headDim);
    const call = () => b.pagedAttentionDecode(out, b.fromHost(q, [B, width], 'f32'), cache.kCache, cache.vCache, cache.blockTables, cache.contextLens, scale);
    if (!runs(c.headDim)) {
      expectUnsupported('pagedAttentionDecode', c.headDim, call);
      return;
    }
    call();
    expect(relErr(b.toHost(out) as Float32Array, attentionRef(c, q, cache.keys, cache.values, scale))).toBeLessThan(F32_TOL);
  });

  it.each(prefillCases)('prefillAttention matches the float64 reference: %s', (_name, c) => {
    const rng = new Rng(c.blockSize * 13 + c.headDim + c.seqs.length);
    const cache = buildCache(b, rng, c);
    const T = c.seqs.reduce((x, s) => x + s.qLen, 0);
    const width = c.heads * c.headDim;
    const q = rng.floats(T * width);
    const cu = [0];
    for (const s of c.seqs) cu.push(cu[cu.length - 1] + s.qLen);
    const out = b.empty([T, width], 'f32');
    const scale = 0.7 / Math.sqrt(c.headDim);
    const call = () => b.prefillAttention(
      out, b.fromHost(q, [T, width], 'f32'), cache.kCache, cache.vCache,
      b.fromHost(Int32Array.from(cu), [cu.length], 'i32'), cache.blockTables, cache.contextLens, scale,
    );
    if (!runs(c.headDim)) {
      expectUnsupported('prefillAttention', c.headDim, call);
      return;
    }
    call();
    expect(relErr(b.toHost(out) as Float32Array, attentionRef(c, q, cache.keys, cache.values, scale))).toBeLessThan(F32_TOL);
  });

  it('decode agrees with prefill on the last query of each sequence', () => {
    const c: Case = { blockSize: 16, headDim: 64, heads: 8, kvHeads: 2, seqs: [{ qLen: 4, ctx: 29 }, { qLen: 2, ctx: 16 }] };
    const rng = new Rng(99);
    const cache = buildCache(b, rng, c);
    const width = c.heads * c.headDim;
    const q = rng.floats(6 * width);
    const out = b.empty([6, width], 'f32');
    b.prefillAttention(out, b.fromHost(q, [6, width], 'f32'), cache.kCache, cache.vCache,
      b.fromHost(Int32Array.from([0, 4, 6]), [3], 'i32'), cache.blockTables, cache.contextLens, 0.125);
    const lastQ = Float32Array.from([...q.subarray(3 * width, 4 * width), ...q.subarray(5 * width, 6 * width)]);
    const dec = b.empty([2, width], 'f32');
    b.pagedAttentionDecode(dec, b.fromHost(lastQ, [2, width], 'f32'), cache.kCache, cache.vCache, cache.blockTables, cache.contextLens, 0.125);
    const pre = b.toHost(out) as Float32Array;
    const ref = Float32Array.from([...pre.subarray(3 * width, 4 * width), ...pre.subarray(5 * width, 6 * width)]);
    expect(relErr(b.toHost(dec) as Float32Array, ref)).toBeLessThan(F32_TOL);
  });

  describe('pagedAttentionDecode with maxContextLen', () => {
    // Block tables as wide as a long maxModelLen (256 blocks of 16: 4,096 tokens, 8 CUDA partitions) over
    // contexts whose longest, 1,300, needs 3.
    const c: Case = { blockSize: 16, headDim: 64, heads: 8, kvHeads: 2, seqs: [700, 1300, 3].map((ctx) => ({ qLen: 1, ctx })) };
    const W = 256;
    const B = c.seqs.length;
    const width = c.heads * c.headDim;
    const scale = 1 / 8;
    const rng = new Rng(1300);
    const cache = buildCache(b, rng, c);
    const wide = new Int32Array(B * W).fill(1 << 30); // entries past a context are never read
    for (let s = 0; s < B; s++) wide.set(cache.tablesHost.subarray(s * cache.maxBlocks, (s + 1) * cache.maxBlocks), s * W);
    const tables = b.fromHost(wide, [B, W], 'i32');
    const qHost = rng.floats(B * width);
    const q = b.fromHost(qHost, [B, width], 'f32');
    const lens = (l: number[]) => b.fromHost(Int32Array.from(l), [B], 'i32');
    const bits = (out: Tensor) => Array.from(new Uint32Array((b.toHost(out) as Float32Array).buffer));
    const decode = (maxContextLen?: number, contextLens = cache.contextLens, out = b.empty([B, width], 'f32')) => {
      b.pagedAttentionDecode(out, q, cache.kCache, cache.vCache, tables, contextLens, scale, maxContextLen);
      return bits(out);
    };

    it('gives the result it gives without it, bit for bit, and matches the float64 reference', () => {
      const without = decode();
      expect(decode(1300)).toEqual(without);
      expect(decode(W * c.blockSize)).toEqual(without);
      const floats = new Float32Array(Uint32Array.from(decode(1300)).buffer);
      expect(relErr(floats, attentionRef(c, qHost, cache.keys, cache.values, scale))).toBeLessThan(F32_TOL);
    });

    it('sizes a short batch from it', () => {
      const short: Case = { ...c, seqs: [{ qLen: 1, ctx: 30 }, { qLen: 1, ctx: 100 }, { qLen: 1, ctx: 2 }] }; // prefixes of the contexts
      const out = b.empty([B, width], 'f32');
      b.pagedAttentionDecode(out, q, cache.kCache, cache.vCache, tables, lens([30, 100, 2]), scale, 100);
      expect(relErr(b.toHost(out) as Float32Array, attentionRef(short, qHost, cache.keys, cache.values, scale))).toBeLessThan(F32_TOL);
    });

    // CPU checks before running; CUDA runs clamped (later tokens ignored), then its device-side check reports.
    it('rejects a length above it; the device has clamped the length to it when it reports', () => {
      const out = b.empty([B, width], 'f32');
      expectKernelError(() => decode(1299, cache.contextLens, out), 'E_RANGE', 'pagedAttentionDecode', 'contextLens');
      if (device === 'cuda') expect(bits(out)).toEqual(decode(1299, lens([700, 1299, 3])));
    });

    it('must be an integer within the block tables\' capacity', () => {
      expectKernelError(() => decode(W * c.blockSize + 1), 'E_RANGE', 'pagedAttentionDecode', 'maxContextLen');
      expectKernelError(() => decode(-1), 'E_RANGE', 'pagedAttentionDecode', 'maxContextLen');
      expectKernelError(() => decode(1300.5), 'E_ARG_TYPE', 'pagedAttentionDecode', 'maxContextLen');
      expectKernelError(() => decode('1300' as never), 'E_ARG_TYPE', 'pagedAttentionDecode', 'maxContextLen');
    });
  });

  it('handles an empty batch', () => {
    const kc = b.fromHost(new Rng(1).floats(2 * 16 * 64), [2, 16, 1, 64], 'f32');
    const empty = b.empty([0, 64], 'f32');
    b.pagedAttentionDecode(empty, b.empty([0, 64], 'f32'), kc, kc, b.empty([0, 4], 'i32'), b.empty([0], 'i32'), 0.1);
    b.prefillAttention(empty, b.empty([0, 64], 'f32'), kc, kc, b.fromHost(Int32Array.from([0]), [1], 'i32'), b.empty([0, 4], 'i32'), b.empty([0], 'i32'), 0.1);
    expect(empty.numel).toBe(0);
  });

  it('rejects bad block tables, context lengths and head layouts', () => {
    const c: Case = { blockSize: 8, headDim: 64, heads: 4, kvHeads: 2, seqs: [{ qLen: 1, ctx: 12 }] };
    const cache = buildCache(b, new Rng(5), c);
    const q = b.fromHost(new Rng(6).floats(4 * 64), [1, 256], 'f32');
    const out = b.empty([1, 256], 'f32');
    const bad = Int32Array.from(cache.tablesHost);
    bad[1] = cache.numBlocks;
    expectKernelError(
      () => b.pagedAttentionDecode(out, q, cache.kCache, cache.vCache, b.fromHost(bad, [1, cache.maxBlocks], 'i32'), cache.contextLens, 1),
      'E_RANGE', 'pagedAttentionDecode', 'blockTables',
    );
    expectKernelError(
      () => b.pagedAttentionDecode(out, q, cache.kCache, cache.vCache, cache.blockTables, b.fromHost(Int32Array.from([8 * cache.maxBlocks + 1]), [1], 'i32'), 1),
      'E_RANGE', 'pagedAttentionDecode', 'contextLens',
    );
    const q3 = b.fromHost(new Rng(7).floats(3 * 64), [1, 192], 'f32');
    expectKernelError(
      () => b.pagedAttentionDecode(b.empty([1, 192], 'f32'), q3, cache.kCache, cache.vCache, cache.blockTables, cache.contextLens, 1),
      'E_SHAPE', 'pagedAttentionDecode', 'q',
    );
    expectKernelError(
      () => b.pagedAttentionDecode(out, q, cache.kCache, cache.vCache, b.fromHost(BigInt64Array.from(cache.tablesHost, BigInt), [1, cache.maxBlocks], 'i64'), cache.contextLens, 1),
      'E_DTYPE', 'pagedAttentionDecode', 'blockTables',
    );
    expectKernelError(
      () => b.prefillAttention(b.empty([3, 256], 'f32'), b.fromHost(new Rng(8).floats(3 * 256), [3, 256], 'f32'), cache.kCache, cache.vCache,
        b.fromHost(Int32Array.from([0, 2]), [2], 'i32'), cache.blockTables, cache.contextLens, 1),
      'E_RANGE', 'prefillAttention', 'cuSeqlensQ',
    );
    expectKernelError(
      () => b.prefillAttention(b.empty([13, 256], 'f32'), b.fromHost(new Rng(8).floats(13 * 256), [13, 256], 'f32'), cache.kCache, cache.vCache,
        b.fromHost(Int32Array.from([0, 13]), [2], 'i32'), cache.blockTables, cache.contextLens, 1),
      'E_RANGE', 'prefillAttention', 'contextLens',
    );
  });
});
