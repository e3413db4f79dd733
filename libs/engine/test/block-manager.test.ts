import fc from 'fast-check';
import { BlockManager, BlockPair } from '../src/core/block-manager';
import { EngineInvariantError } from '../src/errors';

/**
 * A stand-in for the KV cache memory: one token per slot. It lets the tests check what attention would
 * read: every computed position of every sequence, looked up through its block table, holds its token.
 */
class Memory {
  readonly device: Int32Array;
  readonly host: Int32Array;
  constructor(readonly bm: BlockManager) {
    this.device = new Int32Array(bm.numBlocks * bm.blockSize).fill(-1);
    this.host = new Int32Array(Math.max(1, bm.numHostBlocks) * bm.blockSize).fill(-1);
  }
  private copy(from: Int32Array, to: Int32Array, pairs: readonly BlockPair[]): void {
    const bs = this.bm.blockSize;
    for (const [s, d] of pairs) to.set(from.subarray(s * bs, (s + 1) * bs), d * bs);
  }
  copyBlocks(pairs: readonly BlockPair[]): void {
    this.copy(this.device, this.device, pairs);
  }
  swapOut(pairs: readonly BlockPair[]): void {
    this.copy(this.device, this.host, pairs);
  }
  swapIn(pairs: readonly BlockPair[]): void {
    this.copy(this.host, this.device, pairs);
  }
  write(table: readonly number[], tokens: readonly number[], from: number, to: number): void {
    const bs = this.bm.blockSize;
    for (let p = from; p < to; p++) this.device[table[Math.floor(p / bs)] * bs + (p % bs)] = tokens[p];
  }
  read(mem: Int32Array, table: readonly number[], n: number): number[] {
    const bs = this.bm.blockSize;
    return Array.from({ length: n }, (_, p) => mem[table[Math.floor(p / bs)] * bs + (p % bs)]);
  }
}

interface SimSeq {
  id: number;
  tokens: number[];
  computed: number;
  onHost: boolean;
}

/** Drives a BlockManager like the scheduler does and checks every invariant after each operation. */
class Harness {
  readonly mem: Memory;
  readonly seqs = new Map<number, SimSeq>();
  private nextId = 0;
  constructor(readonly bm: BlockManager) {
    this.mem = new Memory(bm);
  }

  /** A new sequence over `tokens`, prefix-cache hits reused, `chunk` more positions computed at once. */
  allocate(tokens: number[], chunk: number): SimSeq | undefined {
    const prefix = this.bm.lookupPrefix(tokens);
    const cached = prefix.blocks.length * this.bm.blockSize;
    const upTo = Math.min(tokens.length, cached + Math.max(1, chunk));
    const id = this.nextId++;
    if (!this.bm.allocate([{ seqId: id, prefix, numTokens: upTo, queriedTokens: tokens.length }])) return undefined;
    const s: SimSeq = { id, tokens: [...tokens], computed: cached, onHost: false };
    this.seqs.set(id, s);
    this.compute(s, upTo);
    return s;
  }

  private compute(s: SimSeq, upTo: number): void {
    this.mem.write(this.bm.blockTable(s.id)!, s.tokens, s.computed, upTo);
    s.computed = upTo;
    this.bm.markComputed(s.id, s.tokens, upTo);
  }

  /** Appends `newTokens` (a decode when it is one) and computes up to `upTo` of them. */
  extend(s: SimSeq, newTokens: number[], count: number): boolean {
    s.tokens.push(...newTokens);
    const upTo = Math.min(s.tokens.length, s.computed + Math.max(1, count));
    if (upTo === s.computed) return true;
    const copies = this.bm.appendSlots(s.id, upTo);
    if (copies === null) {
      s.tokens.length -= newTokens.length;
      return false;
    }
    this.mem.copyBlocks(copies);
    this.compute(s, upTo);
    return true;
  }

  fork(parent: SimSeq): SimSeq {
    const child: SimSeq = { id: this.nextId++, tokens: [...parent.tokens], computed: parent.computed, onHost: false };
    this.bm.fork(parent.id, child.id);
    this.seqs.set(child.id, child);
    return child;
  }

  free(s: SimSeq): void {
    if (s.onHost) this.bm.freeHost(s.id);
    else this.bm.free(s.id);
    this.seqs.delete(s.id);
  }

  swapOut(group: SimSeq[]): boolean {
    const ids = group.map((s) => s.id);
    if (!this.bm.canSwapOut(ids)) return false;
    this.mem.swapOut(this.bm.swapOut(ids));
    for (const s of group) s.onHost = true;
    return true;
  }

  swapIn(group: SimSeq[]): boolean {
    const ids = group.map((s) => s.id);
    if (this.bm.swapInCost(ids) > this.bm.numFreeBlocks) return false;
    this.mem.swapIn(this.bm.swapIn(ids));
    for (const s of group) s.onHost = false;
    return true;
  }

  /** Every invariant, as a list of violations (plain loops: this runs after each of thousands of operations). */
  violations(): string[] {
    const bm = this.bm;
    const bad: string[] = [];
    const refs = new Map<number, number>();
    const hostRefs = new Map<number, number>();
    for (const s of this.seqs.values()) {
      const table = s.onHost ? bm.hostBlockTable(s.id) : bm.blockTable(s.id);
      if (!table) {
        bad.push(`seq ${s.id} has no table`);
        continue;
      }
      if ((s.onHost ? bm.blockTable(s.id) : bm.hostBlockTable(s.id)) !== undefined) bad.push(`seq ${s.id} is on both sides`);
      if (new Set(table).size !== table.length) bad.push(`seq ${s.id} holds a block twice`);
      if (table.length !== Math.ceil(s.computed / bm.blockSize)) bad.push(`seq ${s.id}: ${table.length} blocks for ${s.computed} tokens`);
      const counts = s.onHost ? hostRefs : refs;
      for (const b of table) counts.set(b, (counts.get(b) ?? 0) + 1);
      // What attention would read through the table is exactly the sequence's tokens.
      const got = this.mem.read(s.onHost ? this.mem.host : this.mem.device, table, s.computed);
      if (got.some((t, p) => t !== s.tokens[p])) bad.push(`seq ${s.id} reads ${got} instead of ${s.tokens.slice(0, s.computed)}`);
    }
    for (let b = 0; b < bm.numBlocks; b++) if (bm.refCount(b) !== (refs.get(b) ?? 0)) bad.push(`block ${b}: refcount ${bm.refCount(b)}, held by ${refs.get(b) ?? 0}`);
    for (let h = 0; h < bm.numHostBlocks; h++) if (bm.hostRefCount(h) !== (hostRefs.get(h) ?? 0)) bad.push(`host block ${h}: refcount ${bm.hostRefCount(h)}, held by ${hostRefs.get(h) ?? 0}`);
    // No leak and no double free: the free pools hold exactly the blocks no table holds.
    if (bm.numFreeBlocks !== bm.numBlocks - refs.size) bad.push(`${bm.numFreeBlocks} free blocks, ${bm.numBlocks - refs.size} unheld`);
    if (bm.numFreeHostBlocks !== bm.numHostBlocks - hostRefs.size) bad.push(`${bm.numFreeHostBlocks} free host blocks, ${bm.numHostBlocks - hostRefs.size} unheld`);
    return bad;
  }

  check(): void {
    expect(this.violations()).toEqual([]);
  }
}

const seq = (n: number, start = 0) => Array.from({ length: n }, (_, i) => start + i);

describe('BlockManager', () => {
  it('allocates a table, grows it a block at a time, and frees it', () => {
    const h = new Harness(new BlockManager({ numBlocks: 8, blockSize: 4, enablePrefixCaching: false }));
    const s = h.allocate(seq(6), 6)!;
    expect(h.bm.blockTable(s.id)).toEqual([0, 1]);
    expect(h.extend(s, [100, 101], 2)).toBe(true);
    expect(h.bm.blockTable(s.id)).toEqual([0, 1]);
    expect(h.extend(s, [102], 1)).toBe(true);
    expect(h.bm.blockTable(s.id)).toEqual([0, 1, 2]);
    h.check();
    h.free(s);
    h.check();
    expect(h.bm.numFreeBlocks).toBe(8);
    expect(() => h.bm.free(s.id)).toThrow(EngineInvariantError);
  });

  it('fork shares every block; the first divergent write copies the shared partial block', () => {
    const h = new Harness(new BlockManager({ numBlocks: 16, blockSize: 4, enablePrefixCaching: false }));
    const parent = h.allocate(seq(10), 10)!; // blocks 0,1 full, block 2 holds 2 tokens
    const kids = [h.fork(parent), h.fork(parent), h.fork(parent)];
    expect(h.bm.stats()).toMatchObject({ sharedBlocks: 3, forkSharedBlocks: 9, freeBlocks: 13 });
    // Three holders of block 2 copy it; the last one left writes in place.
    const copies: number[] = [];
    for (const [i, s] of [...kids, parent].entries()) {
      const before = h.bm.blockTable(s.id)![2];
      expect(h.extend(s, [200 + i], 1)).toBe(true);
      copies.push(h.bm.blockTable(s.id)![2] === before ? 0 : 1);
    }
    expect(copies).toEqual([1, 1, 1, 0]);
    expect(h.bm.stats()).toMatchObject({ copyOnWrites: 3, sharedBlocks: 2 });
    h.check();
    for (const s of [parent, ...kids]) h.free(s);
    h.check();
  });

  it('reuses cached full blocks of a shared prefix, never the block holding the last token', () => {
    const h = new Harness(new BlockManager({ numBlocks: 16, blockSize: 4 }));
    const a = h.allocate(seq(12), 12)!;
    // Same first 8 tokens, then different: two full blocks hit.
    expect(h.bm.lookupPrefix([...seq(8), 50, 51, 52]).blocks).toEqual(h.bm.blockTable(a.id)!.slice(0, 2));
    // An identical 12-token prompt reuses only 2 blocks: the last token is always computed.
    const b = h.allocate(seq(12), 12)!;
    expect(h.bm.blockTable(b.id)!.slice(0, 2)).toEqual(h.bm.blockTable(a.id)!.slice(0, 2));
    expect(h.bm.blockTable(b.id)![2]).not.toBe(h.bm.blockTable(a.id)![2]);
    expect(h.bm.stats()).toMatchObject({ prefixQueriedTokens: 24, prefixHitTokens: 8, prefixHitRate: 8 / 24 });
    h.check();
    // A differing token in the first block means no hit at all (the hash chains from the start).
    expect(h.bm.lookupPrefix([99, ...seq(11, 1)]).blocks).toEqual([]);
  });

  it('keeps freed cached blocks for reuse and evicts the least recently freed first', () => {
    const h = new Harness(new BlockManager({ numBlocks: 4, blockSize: 2 }));
    const a = h.allocate([1, 2, 3], 3)!; // block 0 = [1,2] cached, block 1 partial
    const b = h.allocate([5, 6, 7], 3)!; // block 2 = [5,6] cached, block 3 partial
    h.free(a);
    h.free(b);
    expect(h.bm.stats()).toMatchObject({ freeBlocks: 4, cachedFreeBlocks: 2 });
    // Needs 2 fresh blocks: takes the two never-cached ones, cached prefixes survive.
    const c = h.allocate([9, 9, 9], 3)!;
    expect(h.bm.stats().cachedFreeBlocks).toBe(2);
    // One more fresh block: evicts [1,2] (freed before [5,6]).
    const d = h.allocate([8], 1)!;
    expect(h.bm.lookupPrefix([1, 2, 3]).blocks).toEqual([]);
    expect(h.bm.lookupPrefix([5, 6, 7]).blocks).toEqual([2]);
    h.check();
    h.free(c);
    h.free(d);
    h.check();
  });

  it('is all or nothing: a failed allocate or appendSlots changes nothing', () => {
    const h = new Harness(new BlockManager({ numBlocks: 3, blockSize: 2, enablePrefixCaching: false }));
    const a = h.allocate(seq(5), 5)!;
    expect(h.allocate(seq(3), 3)).toBeUndefined();
    expect(h.extend(a, [1, 2], 2)).toBe(false);
    h.check();
    expect(h.bm.numFreeBlocks).toBe(0);
  });

  it('swaps a forked family out and in, copying shared blocks once', () => {
    const h = new Harness(new BlockManager({ numBlocks: 8, blockSize: 4, numHostBlocks: 8, enablePrefixCaching: false }));
    const p = h.allocate(seq(6), 6)!;
    const k = h.fork(p);
    h.extend(k, [77], 1);
    expect(h.swapOut([p, k])).toBe(true);
    // Block 0 is shared (copied once), block 1 exists in two versions after the copy-on-write.
    expect(h.bm.stats()).toMatchObject({ freeBlocks: 8, freeHostBlocks: 5 });
    h.check();
    const filler = h.allocate(seq(20, 500), 20)!;
    h.check();
    h.free(filler);
    expect(h.swapIn([p, k])).toBe(true);
    expect(h.bm.stats()).toMatchObject({ freeBlocks: 5, freeHostBlocks: 8, sharedBlocks: 1 });
    h.check();
  });

  it('reports waste as empty slots in held blocks over held slots', () => {
    const bm = new BlockManager({ numBlocks: 8, blockSize: 4, enablePrefixCaching: false });
    const h = new Harness(bm);
    h.allocate(seq(5), 5); // 2 blocks, 3 empty slots
    h.allocate(seq(8), 8); // 2 full blocks
    expect(bm.stats().waste).toBeCloseTo(3 / 16);
  });

  it('never leaks or double-frees, and refcounts equal table holders, under random operations', () => {
    type Op =
      | { kind: 'alloc'; prefix: number; len: number; chunk: number }
      | { kind: 'extend'; pick: number; tok: number; count: number }
      | { kind: 'prefill'; pick: number; count: number }
      | { kind: 'fork'; pick: number }
      | { kind: 'free'; pick: number }
      | { kind: 'swapOut'; pick: number }
      | { kind: 'swapIn'; pick: number };
    const pick = fc.nat(1000);
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('alloc' as const), prefix: fc.nat(3), len: fc.integer({ min: 1, max: 14 }), chunk: fc.integer({ min: 1, max: 20 }) }),
      fc.record({ kind: fc.constant('extend' as const), pick, tok: fc.nat(5), count: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ kind: fc.constant('prefill' as const), pick, count: fc.integer({ min: 1, max: 8 }) }),
      fc.record({ kind: fc.constant('fork' as const), pick }),
      fc.record({ kind: fc.constant('free' as const), pick }),
      fc.record({ kind: fc.constant('swapOut' as const), pick }),
      fc.record({ kind: fc.constant('swapIn' as const), pick }),
    );
    // A few shared stems make prefix-cache hits common.
    const stems = [seq(9, 1), seq(6, 40), [7, 7, 7, 7, 7, 7, 7, 7], seq(3, 90)];
    fc.assert(
      fc.property(fc.array(op, { minLength: 20, maxLength: 80 }), fc.boolean(), fc.integer({ min: 1, max: 4 }), (ops, caching, bs) => {
        const h = new Harness(new BlockManager({ numBlocks: 24, blockSize: bs, numHostBlocks: 12, enablePrefixCaching: caching }));
        const live = (onHost: boolean) => [...h.seqs.values()].filter((s) => s.onHost === onHost);
        for (const o of ops) {
          const dev = live(false);
          const host = live(true);
          const d = dev.length ? dev[('pick' in o ? o.pick : 0) % dev.length] : undefined;
          switch (o.kind) {
            case 'alloc': {
              const tokens = [...stems[o.prefix], ...seq(o.len, 200 + o.len)].slice(0, o.len + 4);
              h.allocate(tokens, o.chunk);
              break;
            }
            case 'extend':
              // A decode appends a token only once the sequence's tokens are all computed.
              if (d) h.extend(d, d.computed === d.tokens.length ? [o.tok] : [], o.count);
              break;
            case 'prefill':
              if (d) h.extend(d, [], o.count);
              break;
            case 'fork':
              if (d) h.fork(d);
              break;
            case 'free': {
              const all = [...h.seqs.values()];
              if (all.length) h.free(all[o.pick % all.length]);
              break;
            }
            case 'swapOut':
              if (d) h.swapOut([d]);
              break;
            case 'swapIn':
              if (host.length) h.swapIn([host[o.pick % host.length]]);
              break;
          }
          const bad = h.violations();
          if (bad.length) throw new Error(`after ${JSON.stringify(o)}: ${bad.join('; ')}`);
        }
        for (const s of [...h.seqs.values()]) h.free(s);
        expect(h.violations()).toEqual([]);
        expect(h.bm.numFreeBlocks).toBe(24);
      }),
      { numRuns: 200 },
    );
  });
});
