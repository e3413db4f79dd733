// Batch invariance of the CPU ops: a row's (or a sequence's) result is bit for bit the same computed alone and
// inside any batch, at any place in it, so a request's greedy output never depends on what it was batched with.
import { cpuKernelPath, getBackend } from '../src';
import { F32_TOL, fromBf16, gemmRef, relErr, Rng, toBf16 } from './helpers';
import { type Row, samplingTensors } from './sampling-tensors';

const b = getBackend('cpu');
const SIZES = [1, 2, 3, 4, 5, 8, 17, 64];

type Words = Uint32Array;
const words = (x: Float32Array | Int32Array): Words => new Uint32Array(x.buffer, x.byteOffset, x.length);
const host = (t: Parameters<typeof b.toHost>[0]): Words => words(b.toHost(t) as Float32Array | Int32Array);

/** Batches of each size over `pool` items: the first ones, the last ones reversed, and a seeded shuffle. */
function compositions(pool: number, sizes: number[], seed: number): number[][] {
  const rng = new Rng(seed);
  const all = Array.from({ length: pool }, (_, i) => i);
  return sizes.filter((s) => s <= pool).flatMap((s) => [all.slice(0, s), all.slice(pool - s).reverse(), rng.shuffle(all.slice()).slice(0, s)]);
}

/** Rows `rows` of a [n, width] array, in that order. */
function gather(data: Float32Array, width: number, rows: number[]): Float32Array {
  const out = new Float32Array(rows.length * width);
  rows.forEach((r, i) => out.set(data.subarray(r * width, (r + 1) * width), i * width));
  return out;
}

/** Each item's output words: item i of `outputs` [array, width] pairs concatenated, for n items. */
function perItem(n: number, ...outputs: [Words, number][]): Words[] {
  return Array.from({ length: n }, (_, i) => {
    const parts = outputs.map(([data, width]) => data.subarray(i * width, (i + 1) * width));
    const item = new Uint32Array(parts.reduce((s, p) => s + p.length, 0));
    let at = 0;
    for (const p of parts) {
      item.set(p, at);
      at += p.length;
    }
    return item;
  });
}

/**
 * op(items) runs one batch of pool items and returns each one's output words. Every item of every composition
 * must equal its lone run bit for bit; returns the lone outputs.
 */
function expectBatchInvariant(what: string, pool: number, sizes: number[], op: (items: number[]) => Words[]): Words[] {
  const alone = Array.from({ length: pool }, (_, r) => op([r])[0]);
  for (const items of compositions(pool, sizes, pool * 31 + sizes.length)) {
    const out = op(items);
    items.forEach((r, i) => {
      const j = out[i].findIndex((x, k) => x !== alone[r][k]);
      const diff = j === -1 && out[i].length === alone[r].length ? 'identical'
        : `item ${r} at place ${i} of ${items.length}: word ${j} is 0x${out[i][j]?.toString(16)} batched, 0x${alone[r][j]?.toString(16)} alone`;
      expect(`${what}: ${diff}`).toBe(`${what}: identical`);
    });
  }
  return alone;
}

describe(`batch invariance of the cpu ops (${cpuKernelPath().path} kernels)`, () => {
  // K = 8717 spans five K blocks of 2048 and a 525-wide tail (not a multiple of 8 or 16 lanes); K = 4608 two and a
  // 512 tail. bf16 weights run the same chains on widened values.
  it.each([[37, 8717, 'f32'], [45, 4608, 'f32'], [37, 8717, 'bf16'], [45, 4608, 'bf16']] as const)(
    'gemm (N=%i, K=%i, %s weights): every row equals its M=1 result in batches of 1-64 at any place, with and without bias', (N, K, wdtype) => {
      const rng = new Rng(N * 7 + K);
      const pool = 64;
      const a = rng.floats(pool * K);
      const w32 = rng.floats(N * K);
      const w = wdtype === 'bf16' ? fromBf16(toBf16(w32)) : w32;
      const bias = rng.floats(N);
      const wt = wdtype === 'bf16' ? b.fromHost(toBf16(w32), [N, K], 'bf16') : b.fromHost(w, [N, K], 'f32');
      const biasT = b.fromHost(bias, [N], 'f32');
      for (const withBias of [false, true]) {
        const alone = expectBatchInvariant(`gemm${withBias ? ' + bias' : ''}`, pool, SIZES, (rows) => {
          const out = b.empty([rows.length, N], 'f32');
          b.gemm(out, b.fromHost(gather(a, K, rows), [rows.length, K], 'f32'), wt, withBias ? biasT : undefined);
          return perItem(rows.length, [host(out), N]);
        });
        const got = new Float32Array(pool * N);
        alone.forEach((row, r) => got.set(new Float32Array(row.buffer, row.byteOffset, N), r * N));
        // The avx512bf16 path multiplies bf16 weights by bf16-rounded activations.
        const aRef = wdtype === 'bf16' && cpuKernelPath().path === 'avx512bf16' ? fromBf16(toBf16(a)) : a;
        expect(relErr(got, gemmRef(aRef, w, withBias ? bias : undefined, pool, N, K))).toBeLessThan(F32_TOL);
      }
    });

  const H = 4099;

  it('rmsNorm and fusedAddRmsNorm', () => {
    const rng = new Rng(1);
    const pool = 64;
    const x = rng.floats(pool * H, 3);
    const res = rng.floats(pool * H);
    const weight = b.fromHost(rng.floats(H), [H], 'f32');
    expectBatchInvariant('rmsNorm', pool, SIZES, (rows) => {
      const out = b.empty([rows.length, H], 'f32');
      b.rmsNorm(out, b.fromHost(gather(x, H, rows), [rows.length, H], 'f32'), weight, 1e-6);
      return perItem(rows.length, [host(out), H]);
    });
    expectBatchInvariant('fusedAddRmsNorm', pool, SIZES, (rows) => {
      const xt = b.fromHost(gather(x, H, rows), [rows.length, H], 'f32');
      const rt = b.fromHost(gather(res, H, rows), [rows.length, H], 'f32');
      b.fusedAddRmsNorm(xt, rt, weight, 1e-5);
      return perItem(rows.length, [host(xt), H], [host(rt), H]);
    });
  });

  it('rotaryEmbedding and siluAndMul', () => {
    const rng = new Rng(2);
    const pool = 64;
    const [D, qh, kh, maxPos] = [64, 4, 2, 100];
    const cosSin = b.fromHost(rng.floats(maxPos * D), [maxPos, D], 'f32');
    const positions = Array.from({ length: pool }, () => rng.int(maxPos));
    const q = rng.floats(pool * qh * D);
    const k = rng.floats(pool * kh * D);
    expectBatchInvariant('rotaryEmbedding', pool, SIZES, (rows) => {
      const qt = b.fromHost(gather(q, qh * D, rows), [rows.length, qh * D], 'f32');
      const kt = b.fromHost(gather(k, kh * D, rows), [rows.length, kh * D], 'f32');
      b.rotaryEmbedding(b.fromHost(Int32Array.from(rows, (r) => positions[r]), [rows.length], 'i32'), qt, kt, D, cosSin);
      return perItem(rows.length, [host(qt), qh * D], [host(kt), kh * D]);
    });
    const F = 1001;
    const gu = rng.floats(pool * 2 * F, 4);
    expectBatchInvariant('siluAndMul', pool, SIZES, (rows) => {
      const out = b.empty([rows.length, F], 'f32');
      b.siluAndMul(out, b.fromHost(gather(gu, 2 * F, rows), [rows.length, 2 * F], 'f32'));
      return perItem(rows.length, [host(out), F]);
    });
  });

  it('logSoftmaxTopK, gatherLogProbs, argmax and sample (penalties, top-k/p, min-p, seeds)', () => {
    const rng = new Rng(3);
    const [pool, V, topK] = [17, 3001, 5];
    const logits = rng.floats(pool * V, 3);
    const tokens = Array.from({ length: pool }, () => rng.int(V));
    const params: Row[] = Array.from({ length: pool }, (_, i) => ({
      temperature: i % 4 === 0 ? 0 : 0.7 + 0.1 * (i % 3),
      topK: i % 3 === 0 ? 0 : 40,
      topP: i % 2 ? 0.9 : 1,
      minP: i % 5 === 0 ? 0.05 : 0,
      repetitionPenalty: i % 2 ? 1.2 : 1,
      presencePenalty: 0.1 * (i % 3),
      frequencyPenalty: 0.05 * (i % 4),
      prompt: Array.from({ length: 20 + i }, () => rng.int(V)),
      output: Array.from({ length: i }, () => rng.int(V)),
      seed: 100 + i,
      step: 3 * i,
    }));
    const sizes = [1, 2, 3, 4, 5, 8, 17];
    const logitsOf = (rows: number[]) => b.fromHost(gather(logits, V, rows), [rows.length, V], 'f32');
    expectBatchInvariant('logSoftmaxTopK', pool, sizes, (rows) => {
      const values = b.empty([rows.length, topK], 'f32');
      const indices = b.empty([rows.length, topK], 'i32');
      b.logSoftmaxTopK(values, indices, logitsOf(rows), topK);
      return perItem(rows.length, [host(values), topK], [host(indices), topK]);
    });
    expectBatchInvariant('gatherLogProbs', pool, sizes, (rows) => {
      const out = b.empty([rows.length], 'f32');
      b.gatherLogProbs(out, logitsOf(rows), b.fromHost(Int32Array.from(rows, (r) => tokens[r]), [rows.length], 'i32'));
      return perItem(rows.length, [host(out), 1]);
    });
    expectBatchInvariant('argmax', pool, sizes, (rows) => {
      const out = b.empty([rows.length], 'i32');
      b.argmax(out, logitsOf(rows));
      return perItem(rows.length, [host(out), 1]);
    });
    expectBatchInvariant('sample', pool, sizes, (rows) => {
      const out = b.empty([rows.length], 'i32');
      b.sample(out, logitsOf(rows), samplingTensors(b, rows.map((r) => params[r])));
      return perItem(rows.length, [host(out), 1]);
    });
  });

  // One paged cache holds every sequence's keys and values in shuffled blocks; a batch passes its sequences' tables.
  function pagedCache(rng: Rng, contexts: number[], blockSize: number, kvHeads: number, D: number) {
    const perSeq = contexts.map((c) => Math.ceil(c / blockSize));
    const numBlocks = perSeq.reduce((x, y) => x + y, 0);
    const maxBlocks = Math.max(...perSeq);
    const ids = rng.shuffle(Array.from({ length: numBlocks }, (_, i) => i));
    const tables = contexts.map((_, s) => {
      const row = new Int32Array(maxBlocks);
      const first = perSeq.slice(0, s).reduce((x, y) => x + y, 0);
      for (let j = 0; j < perSeq[s]; j++) row[j] = ids[first + j];
      return row;
    });
    const shape = [numBlocks, blockSize, kvHeads, D];
    const size = numBlocks * blockSize * kvHeads * D;
    return {
      kCache: b.fromHost(rng.floats(size), shape, 'f32'),
      vCache: b.fromHost(rng.floats(size), shape, 'f32'),
      tablesOf: (seqs: number[]) => b.fromHost(Int32Array.from(seqs.flatMap((s) => Array.from(tables[s]))), [seqs.length, maxBlocks], 'i32'),
      lensOf: (seqs: number[]) => b.fromHost(Int32Array.from(seqs, (s) => contexts[s]), [seqs.length], 'i32'),
    };
  }

  it('pagedAttentionDecode: each sequence alone and in batches', () => {
    const rng = new Rng(4);
    const [blockSize, heads, kvHeads, D] = [16, 8, 2, 64];
    const contexts = [1, 17, 50, 33, 64, 7, 100, 16, 129, 2, 31, 80];
    const cache = pagedCache(rng, contexts, blockSize, kvHeads, D);
    const width = heads * D;
    const q = rng.floats(contexts.length * width);
    expectBatchInvariant('pagedAttentionDecode', contexts.length, [1, 2, 3, 5, 8, 12], (seqs) => {
      const out = b.empty([seqs.length, width], 'f32');
      b.pagedAttentionDecode(out, b.fromHost(gather(q, width, seqs), [seqs.length, width], 'f32'), cache.kCache, cache.vCache,
        cache.tablesOf(seqs), cache.lensOf(seqs), 0.125);
      return perItem(seqs.length, [host(out), width]);
    });
  });

  it('prefillAttention: each sequence alone and packed with others', () => {
    const rng = new Rng(5);
    const [blockSize, heads, kvHeads, D] = [16, 8, 2, 72];
    const seqs = [{ qLen: 5, ctx: 5 }, { qLen: 3, ctx: 20 }, { qLen: 1, ctx: 1 }, { qLen: 19, ctx: 40 }, { qLen: 37, ctx: 37 }, { qLen: 17, ctx: 50 }];
    const cache = pagedCache(rng, seqs.map((s) => s.ctx), blockSize, kvHeads, D);
    const width = heads * D;
    const qs = seqs.map((s) => rng.floats(s.qLen * width));
    expectBatchInvariant('prefillAttention', seqs.length, [1, 2, 3, 6], (items) => {
      const T = items.reduce((x, s) => x + seqs[s].qLen, 0);
      const q = new Float32Array(T * width);
      const cu = [0];
      for (const s of items) {
        q.set(qs[s], cu[cu.length - 1] * width);
        cu.push(cu[cu.length - 1] + seqs[s].qLen);
      }
      const out = b.empty([T, width], 'f32');
      b.prefillAttention(out, b.fromHost(q, [T, width], 'f32'), cache.kCache, cache.vCache,
        b.fromHost(Int32Array.from(cu), [cu.length], 'i32'), cache.tablesOf(items), cache.lensOf(items), 0.1);
      const all = host(out);
      return items.map((s, i) => all.slice(cu[i] * width, cu[i + 1] * width));
    });
  });
});
