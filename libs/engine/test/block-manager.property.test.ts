import fc from 'fast-check';
import { Allocation, BlockManager, BlockPair } from '../src/core/block-manager';

/**
 * Model-based test of the block manager as the scheduler drives it: batched allocations with prefix-cache
 * hits, chunked prefill and decode, forks, frees, and swapping whole forked families out and in. After every
 * command: no leak or double free, every refcount equals the tables holding the block, free + cached + held
 * = total, each cost query predicted the blocks the operation took, a refused operation changed nothing, and
 * every sequence reads its own tokens back through its table (so a prefix-cache hit never aliases other data).
 */

interface Seq {
  id: number;
  tokens: number[];
  computed: number;
  onHost: boolean;
}

const BLOCK_SIZES = [1, 2, 3, 4] as const;

/** The block manager plus a stand-in KV memory (one token id per slot) that applies the copies it returns. */
class World {
  readonly bm: BlockManager;
  readonly seqs = new Map<number, Seq>();
  private readonly device: number[][];
  private readonly host: number[][];
  private nextId = 0;

  constructor(numBlocks: number, numHostBlocks: number, readonly bs: number, caching: boolean) {
    this.bm = new BlockManager({ numBlocks, blockSize: bs, numHostBlocks, enablePrefixCaching: caching });
    this.device = Array.from({ length: numBlocks }, () => new Array<number>(bs).fill(-1));
    this.host = Array.from({ length: numHostBlocks }, () => new Array<number>(bs).fill(-1));
  }

  newId(): number {
    return this.nextId++;
  }

  live(onHost: boolean): Seq[] {
    return [...this.seqs.values()].filter((s) => s.onHost === onHost);
  }

  copy(from: number[][], to: number[][], pairs: readonly BlockPair[]): void {
    // Sources are read before any destination is written, as the batched device copy does.
    const data = pairs.map(([s]) => [...from[s]]);
    pairs.forEach(([, d], i) => (to[d] = data[i]));
  }

  copyDevice(pairs: readonly BlockPair[]): void {
    this.copy(this.device, this.device, pairs);
  }

  toHost(pairs: readonly BlockPair[]): void {
    this.copy(this.device, this.host, pairs);
  }

  toDevice(pairs: readonly BlockPair[]): void {
    this.copy(this.host, this.device, pairs);
  }

  /** Computes positions [s.computed, upTo): writes their tokens through the table and marks them cached. */
  compute(s: Seq, upTo: number): void {
    const table = this.bm.blockTable(s.id)!;
    for (let p = s.computed; p < upTo; p++) this.device[table[Math.floor(p / this.bs)]][p % this.bs] = s.tokens[p];
    s.computed = upTo;
    this.bm.markComputed(s.id, s.tokens, upTo);
  }

  read(table: readonly number[], n: number, onHost: boolean): number[] {
    const mem = onHost ? this.host : this.device;
    return Array.from({ length: n }, (_, p) => mem[table[Math.floor(p / this.bs)]][p % this.bs]);
  }

  /** Everything an operation could change, to prove that a refused one changed nothing. */
  snapshot(): unknown {
    const tables = [...this.seqs.keys()].map((id) => [id, this.bm.blockTable(id), this.bm.hostBlockTable(id)]);
    const refs = Array.from({ length: this.bm.numBlocks }, (_, b) => this.bm.refCount(b));
    const hostRefs = Array.from({ length: this.bm.numHostBlocks }, (_, h) => this.bm.hostRefCount(h));
    return structuredClone({ tables, refs, hostRefs, stats: this.bm.stats() });
  }

  violations(): string[] {
    const { bm } = this;
    const bad: string[] = [];
    const holders = new Map<number, number>();
    const hostHolders = new Map<number, number>();
    for (const s of this.seqs.values()) {
      const table = s.onHost ? bm.hostBlockTable(s.id) : bm.blockTable(s.id);
      const other = s.onHost ? bm.blockTable(s.id) : bm.hostBlockTable(s.id);
      if (!table || other) {
        bad.push(`seq ${s.id} (${s.onHost ? 'host' : 'device'}): tables ${JSON.stringify([table, other])}`);
        continue;
      }
      if (new Set(table).size !== table.length) bad.push(`seq ${s.id} holds a block twice: ${table}`);
      if (table.length !== bm.blocksFor(s.computed)) bad.push(`seq ${s.id}: ${table.length} blocks for ${s.computed} positions`);
      const counts = s.onHost ? hostHolders : holders;
      for (const b of table) counts.set(b, (counts.get(b) ?? 0) + 1);
      const got = this.read(table, s.computed, s.onHost);
      if (got.some((t, p) => t !== s.tokens[p])) bad.push(`seq ${s.id} reads [${got}], wrote [${s.tokens.slice(0, s.computed)}]`);
    }
    let zero = 0;
    for (let b = 0; b < bm.numBlocks; b++) {
      if (bm.refCount(b) !== (holders.get(b) ?? 0)) bad.push(`block ${b}: refcount ${bm.refCount(b)}, ${holders.get(b) ?? 0} holders`);
      if (bm.refCount(b) === 0) zero++;
    }
    for (let h = 0; h < bm.numHostBlocks; h++) {
      if (bm.hostRefCount(h) !== (hostHolders.get(h) ?? 0)) bad.push(`host block ${h}: refcount ${bm.hostRefCount(h)}, ${hostHolders.get(h) ?? 0} holders`);
    }
    const st = bm.stats();
    const uncached = st.freeBlocks - st.cachedFreeBlocks;
    if (uncached < 0 || uncached + st.cachedFreeBlocks + holders.size !== bm.numBlocks || zero !== st.freeBlocks) {
      bad.push(`free ${uncached} + cached ${st.cachedFreeBlocks} + held ${holders.size} != ${bm.numBlocks} (unheld ${zero})`);
    }
    if (!bm.enablePrefixCaching && st.cachedFreeBlocks !== 0) bad.push(`${st.cachedFreeBlocks} cached blocks with caching off`);
    if (st.freeHostBlocks + hostHolders.size !== bm.numHostBlocks) bad.push(`host: free ${st.freeHostBlocks} + held ${hostHolders.size} != ${bm.numHostBlocks}`);
    const shared = [...holders.values()].filter((n) => n > 1).length;
    if (st.sharedBlocks !== shared) bad.push(`sharedBlocks ${st.sharedBlocks}, ${shared} blocks have several holders`);
    // Waste recomputed from the tables: a held block is as full as its fullest holder keeps it.
    const fill = new Map<number, number>();
    for (const s of this.live(false)) {
      bm.blockTable(s.id)!.forEach((b, i) => fill.set(b, Math.max(fill.get(b) ?? 0, Math.min(this.bs, s.computed - i * this.bs))));
    }
    const slots = fill.size * this.bs;
    const waste = slots > 0 ? (slots - [...fill.values()].reduce((x, y) => x + y, 0)) / slots : 0;
    if (st.waste !== waste || bm.waste !== waste || bm.heldSlots !== slots) bad.push(`waste ${st.waste} (${bm.heldSlots} held slots), tables say ${waste} (${slots})`);
    return bad;
  }
}

type Cmd = fc.Command<object, World>;
const pickFrom = <T>(xs: T[], i: number): T | undefined => (xs.length ? xs[i % xs.length] : undefined);

// A few stems make prefix-cache hits (and hits shared within one batch) common.
const STEMS = [[1, 2, 3, 4, 5, 6, 7, 8, 9], [40, 41, 42, 43, 44, 45], [7, 7, 7, 7, 7, 7, 7, 7], [90, 91, 92]];

/** New sequences admitted together; the cached hits they share are pinned before any fresh block is taken. */
class AllocBatch implements Cmd {
  constructor(readonly prompts: Array<{ stem: number; tail: number[] }>, readonly chunk: number) {}
  check(): boolean {
    return true;
  }
  run(_: object, w: World): void {
    const { bm } = w;
    const seqs = this.prompts.map(({ stem, tail }) => ({ id: w.newId(), tokens: [...STEMS[stem], ...tail], computed: 0, onHost: false }));
    const plan: Allocation[] = seqs.map((s) => {
      const prefix = bm.lookupPrefix(s.tokens);
      // A hit serves cached blocks whose contents are exactly this prompt's leading tokens.
      expect(w.read(prefix.blocks, prefix.blocks.length * w.bs, false)).toEqual(s.tokens.slice(0, prefix.blocks.length * w.bs));
      expect(prefix.blocks.length * w.bs).toBeLessThan(s.tokens.length);
      s.computed = prefix.blocks.length * w.bs;
      return { seqId: s.id, prefix, numTokens: Math.min(s.tokens.length, s.computed + this.chunk), queriedTokens: s.tokens.length };
    });
    const cost = bm.allocationCost(plan);
    const free = bm.numFreeBlocks;
    const before = w.snapshot();
    const ok = bm.allocate(plan);
    expect(ok).toBe(cost <= free);
    if (!ok) {
      expect(w.snapshot()).toEqual(before);
      return;
    }
    expect(bm.numFreeBlocks).toBe(free - cost);
    seqs.forEach((s, i) => {
      w.seqs.set(s.id, s);
      w.compute(s, plan[i].numTokens);
    });
  }
  toString(): string {
    return `alloc(${JSON.stringify(this.prompts)}, chunk ${this.chunk})`;
  }
}

/** A prefill chunk, or a decode (one new token) once the prompt is all computed. */
class Extend implements Cmd {
  constructor(readonly pick: number, readonly token: number, readonly count: number) {}
  check(): boolean {
    return true;
  }
  run(_: object, w: World): void {
    const s = pickFrom(w.live(false), this.pick);
    if (!s) return;
    const decode = s.computed === s.tokens.length;
    const upTo = decode ? s.computed + 1 : Math.min(s.tokens.length, s.computed + this.count);
    const cost = w.bm.appendCost(s.id, upTo);
    const free = w.bm.numFreeBlocks;
    const before = w.snapshot();
    const copies = w.bm.appendSlots(s.id, upTo);
    expect(copies === null).toBe(cost > free);
    if (copies === null) {
      expect(w.snapshot()).toEqual(before);
      return;
    }
    expect(w.bm.numFreeBlocks).toBe(free - cost);
    w.copyDevice(copies);
    if (decode) s.tokens.push(this.token);
    w.compute(s, upTo);
  }
  toString(): string {
    return `extend(${this.pick}, tok ${this.token}, ${this.count})`;
  }
}

class Fork implements Cmd {
  constructor(readonly pick: number) {}
  check(): boolean {
    return true;
  }
  run(_: object, w: World): void {
    const p = pickFrom(w.live(false), this.pick);
    if (!p) return;
    const free = w.bm.numFreeBlocks;
    const child: Seq = { id: w.newId(), tokens: [...p.tokens], computed: p.computed, onHost: false };
    w.bm.fork(p.id, child.id);
    w.seqs.set(child.id, child);
    expect(w.bm.numFreeBlocks).toBe(free);
  }
  toString(): string {
    return `fork(${this.pick})`;
  }
}

/** Finish or abort: device or host blocks go back to their pool. */
class Free implements Cmd {
  constructor(readonly pick: number) {}
  check(): boolean {
    return true;
  }
  run(_: object, w: World): void {
    const s = pickFrom([...w.seqs.values()], this.pick);
    if (!s) return;
    if (s.onHost) w.bm.freeHost(s.id);
    else w.bm.free(s.id);
    w.seqs.delete(s.id);
  }
  toString(): string {
    return `free(${this.pick})`;
  }
}

/** The sequences on the same side sharing a block with `s`, transitively: a forked family, swapped as one. */
function family(w: World, s: Seq): Seq[] {
  const tableOf = (x: Seq) => (x.onHost ? w.bm.hostBlockTable(x.id) : w.bm.blockTable(x.id))!;
  const members = [s];
  const blocks = new Set(tableOf(s));
  for (let grew = true; grew; ) {
    grew = false;
    for (const x of w.live(s.onHost)) {
      if (!members.includes(x) && tableOf(x).some((b) => blocks.has(b))) {
        members.push(x);
        tableOf(x).forEach((b) => blocks.add(b));
        grew = true;
      }
    }
  }
  return members;
}

class SwapOut implements Cmd {
  constructor(readonly pick: number) {}
  check(): boolean {
    return true;
  }
  run(_: object, w: World): void {
    const s = pickFrom(w.live(false), this.pick);
    if (!s) return;
    const group = family(w, s);
    const ids = group.map((x) => x.id);
    const distinct = new Set(ids.flatMap((id) => w.bm.blockTable(id)!)).size;
    const hostFree = w.bm.numFreeHostBlocks;
    expect(w.bm.canSwapOut(ids)).toBe(distinct <= hostFree);
    if (!w.bm.canSwapOut(ids)) return;
    const copies = w.bm.swapOut(ids);
    // A block shared within the family is copied (and takes host space) once.
    expect(copies).toHaveLength(distinct);
    expect(w.bm.numFreeHostBlocks).toBe(hostFree - distinct);
    w.toHost(copies);
    group.forEach((x) => (x.onHost = true));
  }
  toString(): string {
    return `swapOut(${this.pick})`;
  }
}

class SwapIn implements Cmd {
  constructor(readonly pick: number) {}
  check(): boolean {
    return true;
  }
  run(_: object, w: World): void {
    const s = pickFrom(w.live(true), this.pick);
    if (!s) return;
    const group = family(w, s);
    const ids = group.map((x) => x.id);
    const cost = w.bm.swapInCost(ids);
    const free = w.bm.numFreeBlocks;
    if (cost > free) return;
    const copies = w.bm.swapIn(ids);
    expect(copies).toHaveLength(cost);
    expect(w.bm.numFreeBlocks).toBe(free - cost);
    w.toDevice(copies);
    group.forEach((x) => (x.onHost = false));
  }
  toString(): string {
    return `swapIn(${this.pick})`;
  }
}

/** Runs the command, then checks every invariant, naming the command that broke one. */
class Checked implements Cmd {
  constructor(readonly inner: Cmd) {}
  check(m: object): boolean {
    return this.inner.check(m);
  }
  run(m: object, w: World): void {
    this.inner.run(m, w);
    const bad = w.violations();
    if (bad.length) throw new Error(`after ${this.inner.toString()}: ${bad.join('; ')}`);
  }
  toString(): string {
    return this.inner.toString();
  }
}

const pick = fc.nat(1000);
const prompt = fc.record({ stem: fc.nat(STEMS.length - 1), tail: fc.array(fc.integer({ min: 100, max: 103 }), { maxLength: 6 }) });
const commands = fc.commands(
  [
    fc.tuple(fc.array(prompt, { minLength: 1, maxLength: 3 }), fc.integer({ min: 1, max: 20 })).map(([ps, chunk]) => new Checked(new AllocBatch(ps, chunk))),
    fc.tuple(pick, fc.nat(5), fc.integer({ min: 1, max: 8 })).map(([p, t, c]) => new Checked(new Extend(p, t, c))),
    pick.map((p) => new Checked(new Fork(p))),
    pick.map((p) => new Checked(new Free(p))),
    pick.map((p) => new Checked(new SwapOut(p))),
    pick.map((p) => new Checked(new SwapIn(p))),
  ],
  { maxCommands: 120, size: 'large' },
);

describe('BlockManager (model-based)', () => {
  it('keeps refcounts, pools and KV contents consistent under random scheduler-like command sequences', () => {
    const config = fc.record({
      numBlocks: fc.integer({ min: 4, max: 32 }),
      numHostBlocks: fc.integer({ min: 0, max: 16 }),
      bs: fc.constantFrom(...BLOCK_SIZES),
      caching: fc.boolean(),
    });
    fc.assert(
      fc.property(config, commands, (c, cmds) => {
        const world = new World(c.numBlocks, c.numHostBlocks, c.bs, c.caching);
        fc.modelRun(() => ({ model: {}, real: world }), cmds);
        // Draining everything returns every block; cached prefixes stay reusable in the free pool.
        while (world.seqs.size) new Checked(new Free(0)).run({}, world);
        expect(world.seqs.size).toBe(0);
        expect(world.bm.numFreeBlocks).toBe(c.numBlocks);
        expect(world.bm.numFreeHostBlocks).toBe(c.numHostBlocks);
      }),
      { numRuns: 300 },
    );
  });
});
