import { EngineInvariantError } from '../errors';

/** A block copy the model runner performs before the step's forward pass: (source, destination). */
export type BlockPair = readonly [number, number];

export interface BlockManagerOptions {
  numBlocks: number;
  blockSize: number;
  /** Host blocks that swapped-out sequences occupy; 0 disables swapping. */
  numHostBlocks?: number;
  enablePrefixCaching?: boolean;
}

export interface BlockManagerStats {
  numBlocks: number;
  freeBlocks: number;
  /** Fraction of device blocks held by sequences. */
  usage: number;
  /** Free blocks that still hold a cached prefix (evicted least recently freed first). */
  cachedFreeBlocks: number;
  /** Blocks held by more than one block table. */
  sharedBlocks: number;
  numHostBlocks: number;
  freeHostBlocks: number;
  prefixQueriedTokens: number;
  prefixHitTokens: number;
  prefixHitRate: number;
  /** Slots in held blocks that hold no token / slots in held blocks. */
  waste: number;
  /** Block-table entries that fork() shared instead of copying. */
  forkSharedBlocks: number;
  /** Shared partial blocks copied on a divergent write. */
  copyOnWrites: number;
}

/** What a prompt's full blocks are in the prefix cache, from its start up to the first miss. */
export interface CachedPrefix {
  blocks: number[];
  entries: CacheEntry[];
}

/** A new sequence's table: reuse `prefix`, reserve numTokens positions; queriedTokens count towards the hit rate. */
export interface Allocation {
  seqId: number;
  prefix: CachedPrefix;
  numTokens: number;
  queriedTokens: number;
}

/** Identity of a full block: its chained hash and exact contents, compared on lookup so a hash collision cannot alias. */
export interface CacheEntry {
  hash: string;
  parent: string;
  tokens: number[];
}

const ROOT = '';

// Two independent 32-bit FNV-1a lanes over (parent hash, token ids): the chained hash of a full block.
function blockHash(parent: string, tokens: readonly number[]): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  const mix = (x: number) => {
    a = Math.imul(a ^ (x & 0xffff), 0x01000193);
    a = Math.imul(a ^ (x >>> 16), 0x01000193);
    b = Math.imul(b ^ x, 0x5bd1e995);
    b ^= b >>> 15;
  };
  for (let i = 0; i < parent.length; i++) mix(parent.charCodeAt(i));
  mix(0x7fffffff);
  for (const t of tokens) mix(t);
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

/**
 * The paged KV cache's bookkeeping: fixed-size blocks with reference counts, one block table per sequence,
 * forks that share blocks with copy-on-write, automatic prefix caching of full blocks, and swapping to a
 * host pool. It never touches the cache memory itself: it returns the copies the model runner must make.
 */
export class BlockManager {
  readonly numBlocks: number;
  readonly blockSize: number;
  readonly numHostBlocks: number;
  readonly enablePrefixCaching: boolean;
  private readonly refs: Int32Array;
  private readonly entryOf: Array<CacheEntry | undefined>;
  private readonly freeList: number[];
  // Insertion order is LRU order: a block enters when its last holder frees it.
  private readonly evictable = new Map<number, true>();
  private readonly cache = new Map<string, number>();
  private readonly tables = new Map<number, number[]>();
  private readonly reserved = new Map<number, number>();
  // The identities of each sequence's computed full blocks, kept across swaps.
  private readonly chains = new Map<number, CacheEntry[]>();
  private readonly hostRefs: Int32Array;
  private readonly hostFree: number[];
  private readonly hostTables = new Map<number, number[]>();
  // Tokens each held block keeps. Holders of a block always keep the same count in it (a shared partial block is
  // copied before anyone writes past it), so this is also the most any holder keeps; 0 for free blocks.
  private readonly fillOf: Int32Array;
  // Running totals behind stats(), kept per operation so a step's bookkeeping never walks every table.
  private filledSlots = 0;
  private sharedCount = 0;
  private prefixQueried = 0;
  private prefixHits = 0;
  private forkShared = 0;
  private cows = 0;

  constructor(o: BlockManagerOptions) {
    this.numBlocks = o.numBlocks;
    this.blockSize = o.blockSize;
    this.numHostBlocks = o.numHostBlocks ?? 0;
    this.enablePrefixCaching = o.enablePrefixCaching ?? true;
    this.refs = new Int32Array(o.numBlocks);
    this.entryOf = new Array(o.numBlocks).fill(undefined);
    this.fillOf = new Int32Array(o.numBlocks);
    // Reversed so pop() hands out low block ids first (easier to read in logs and tests).
    this.freeList = Array.from({ length: o.numBlocks }, (_, i) => o.numBlocks - 1 - i);
    this.hostRefs = new Int32Array(this.numHostBlocks);
    this.hostFree = Array.from({ length: this.numHostBlocks }, (_, i) => this.numHostBlocks - 1 - i);
  }

  get numFreeBlocks(): number {
    return this.freeList.length + this.evictable.size;
  }

  /** Slots in blocks held by sequences. */
  get heldSlots(): number {
    return (this.numBlocks - this.numFreeBlocks) * this.blockSize;
  }

  /** Slots in held blocks that hold no token / slots in held blocks. */
  get waste(): number {
    const slots = this.heldSlots;
    return slots > 0 ? (slots - this.filledSlots) / slots : 0;
  }

  get numFreeHostBlocks(): number {
    return this.hostFree.length;
  }

  blockTable(seqId: number): readonly number[] | undefined {
    return this.tables.get(seqId);
  }

  hostBlockTable(seqId: number): readonly number[] | undefined {
    return this.hostTables.get(seqId);
  }

  refCount(block: number): number {
    return this.refs[block];
  }

  hostRefCount(block: number): number {
    return this.hostRefs[block];
  }

  /** Blocks a sequence holding `numTokens` positions needs. */
  blocksFor(numTokens: number): number {
    return Math.ceil(numTokens / this.blockSize);
  }

  /**
   * The longest run of cached full blocks at the start of `tokens`. The last token is never served from
   * the cache, so a prefill always computes at least one position and yields logits.
   */
  lookupPrefix(tokens: readonly number[]): CachedPrefix {
    const found: CachedPrefix = { blocks: [], entries: [] };
    if (!this.enablePrefixCaching) return found;
    const bs = this.blockSize;
    let parent = ROOT;
    for (let i = 0; (i + 1) * bs <= tokens.length - 1; i++) {
      const chunk = tokens.slice(i * bs, (i + 1) * bs);
      const hash = blockHash(parent, chunk);
      const block = this.cache.get(hash);
      const e = block === undefined ? undefined : this.entryOf[block];
      if (block === undefined || !e || e.parent !== parent || e.tokens.some((t, j) => t !== chunk[j])) break;
      found.blocks.push(block);
      found.entries.push(e);
      parent = hash;
    }
    return found;
  }

  /**
   * Free blocks allocate(requests) would consume: their new blocks plus the cached hits that are free now
   * (each counted once, however many of the requests share it).
   */
  allocationCost(requests: readonly Allocation[]): number {
    const fresh = requests.reduce((s, r) => s + Math.max(0, this.blocksFor(r.numTokens) - r.prefix.blocks.length), 0);
    const hits = new Set(requests.flatMap((r) => r.prefix.blocks).filter((b) => this.refs[b] === 0));
    return fresh + hits.size;
  }

  /**
   * Gives new sequences block tables that reuse their cached prefixes and reserve slots for numTokens
   * positions each. All hits are pinned before any new block is taken, so no allocation evicts another's
   * hit. All or nothing: returns false (and changes nothing) when the free blocks do not suffice.
   */
  allocate(requests: readonly Allocation[]): boolean {
    for (const r of requests) {
      if (this.tables.has(r.seqId) || this.hostTables.has(r.seqId)) throw new EngineInvariantError(`sequence ${r.seqId} already has blocks`);
    }
    if (this.allocationCost(requests) > this.numFreeBlocks) return false;
    for (const r of requests) {
      const table = r.prefix.blocks.map((b) => {
        if (this.refs[b] === 0) this.evictable.delete(b);
        this.addHolder(b);
        return b;
      });
      this.tables.set(r.seqId, table);
      this.reserved.set(r.seqId, Math.max(r.numTokens, r.prefix.blocks.length * this.blockSize));
      this.chains.set(r.seqId, [...r.prefix.entries]);
      if (this.enablePrefixCaching) {
        this.prefixQueried += r.queriedTokens;
        this.prefixHits += r.prefix.blocks.length * this.blockSize;
      }
    }
    for (const r of requests) {
      const table = this.tables.get(r.seqId)!;
      while (table.length < this.blocksFor(r.numTokens)) table.push(this.takeFresh());
      this.fill(table, this.reserved.get(r.seqId)!, 0);
    }
    return true;
  }

  /** Free blocks appendSlots(seqId, numTokens) would consume. */
  appendCost(seqId: number, numTokens: number): number {
    const table = this.table(seqId);
    const have = this.reserved.get(seqId)!;
    if (numTokens <= have) return 0;
    const partial = have % this.blockSize !== 0 && this.refs[table[table.length - 1]] > 1 ? 1 : 0;
    return Math.max(0, this.blocksFor(numTokens) - table.length) + partial;
  }

  /**
   * Reserves slots up to `numTokens` positions. A shared last block is copied first (copy-on-write), so
   * the positions this sequence writes never land in another table's block. Returns the copies to make,
   * or null (and changes nothing) when there are not enough free blocks.
   */
  appendSlots(seqId: number, numTokens: number): BlockPair[] | null {
    if (this.appendCost(seqId, numTokens) > this.numFreeBlocks) return null;
    const table = this.table(seqId);
    const have = this.reserved.get(seqId)!;
    if (numTokens <= have) return [];
    const copies: BlockPair[] = [];
    const last = table.length - 1;
    if (have % this.blockSize !== 0 && this.refs[table[last]] > 1) {
      const src = table[last];
      const dst = this.takeFresh();
      if (--this.refs[src] === 1) this.sharedCount--;
      table[last] = dst;
      copies.push([src, dst]);
      this.cows++;
    }
    while (table.length < this.blocksFor(numTokens)) table.push(this.takeFresh());
    this.reserved.set(seqId, numTokens);
    this.fill(table, numTokens, Math.max(0, last));
    return copies;
  }

  /** Records that positions [0, numComputed) of the sequence are in the cache: its full blocks become cacheable. */
  markComputed(seqId: number, tokens: readonly number[], numComputed: number): void {
    if (!this.enablePrefixCaching) return;
    const table = this.table(seqId);
    const chain = this.chains.get(seqId)!;
    const bs = this.blockSize;
    for (let i = chain.length; (i + 1) * bs <= numComputed; i++) {
      const parent = i === 0 ? ROOT : chain[i - 1].hash;
      const blockTokens = tokens.slice(i * bs, (i + 1) * bs);
      const entry = { hash: blockHash(parent, blockTokens), parent, tokens: blockTokens };
      chain.push(entry);
      this.register(table[i], entry);
    }
  }

  /** The child gets the parent's table; every block gains a holder. */
  fork(parentId: number, childId: number): void {
    if (this.tables.has(childId) || this.hostTables.has(childId)) throw new EngineInvariantError(`fork target ${childId} already has blocks`);
    const table = this.table(parentId);
    for (const b of table) this.addHolder(b);
    this.tables.set(childId, [...table]);
    this.reserved.set(childId, this.reserved.get(parentId)!);
    this.chains.set(childId, [...(this.chains.get(parentId) ?? [])]);
    this.forkShared += table.length;
  }

  /** Releases a sequence's device blocks (tail first, so the tail is evicted first from the prefix cache). */
  free(seqId: number): void {
    const table = this.table(seqId);
    for (let i = table.length - 1; i >= 0; i--) this.release(table[i]);
    this.tables.delete(seqId);
    this.reserved.delete(seqId);
    this.chains.delete(seqId);
  }

  /** Whether the sequences' device blocks fit in the host pool. */
  canSwapOut(seqIds: readonly number[]): boolean {
    return this.distinct(seqIds.map((id) => this.table(id))).length <= this.hostFree.length;
  }

  /**
   * Moves the sequences' blocks to the host pool (a block shared among them is copied once).
   * Returns (device, host) copies to make before the device blocks are reused.
   */
  swapOut(seqIds: readonly number[]): BlockPair[] {
    if (!this.canSwapOut(seqIds)) throw new EngineInvariantError(`swap out of sequences ${seqIds.join(', ')}: host pool too small`);
    const mapping = new Map<number, number>();
    for (const id of seqIds) {
      const table = this.table(id);
      const host = table.map((b) => {
        let h = mapping.get(b);
        if (h === undefined) {
          h = this.hostFree.pop()!;
          mapping.set(b, h);
        }
        this.hostRefs[h]++;
        return h;
      });
      for (let i = table.length - 1; i >= 0; i--) this.release(table[i]);
      this.tables.delete(id);
      this.hostTables.set(id, host);
    }
    return [...mapping];
  }

  /** Device blocks swapIn(seqIds) would consume. */
  swapInCost(seqIds: readonly number[]): number {
    return this.distinct(seqIds.map((id) => this.hostTable(id))).length;
  }

  /** Brings swapped sequences back into fresh device blocks; returns (host, device) copies to make. */
  swapIn(seqIds: readonly number[]): BlockPair[] {
    const cost = this.swapInCost(seqIds);
    if (cost > this.numFreeBlocks) throw new EngineInvariantError(`swap in needs ${cost} blocks, ${this.numFreeBlocks} free`);
    const mapping = new Map<number, number>();
    for (const id of seqIds) {
      const host = this.hostTable(id);
      const table = host.map((h) => {
        const b = mapping.get(h);
        if (b !== undefined) {
          this.addHolder(b);
          return b;
        }
        const fresh = this.takeFresh();
        mapping.set(h, fresh);
        return fresh;
      });
      for (const h of host) if (--this.hostRefs[h] === 0) this.hostFree.push(h);
      this.hostTables.delete(id);
      this.tables.set(id, table);
      this.fill(table, this.reserved.get(id)!, 0);
      // Swapped-in full blocks become cacheable again unless an identical block is already cached.
      this.chains.get(id)!.forEach((entry, i) => this.register(table[i], entry));
    }
    return [...mapping];
  }

  /** Drops a swapped-out sequence's host blocks (abort while swapped). */
  freeHost(seqId: number): void {
    for (const h of this.hostTable(seqId)) if (--this.hostRefs[h] === 0) this.hostFree.push(h);
    this.hostTables.delete(seqId);
    this.reserved.delete(seqId);
    this.chains.delete(seqId);
  }

  stats(): BlockManagerStats {
    return {
      numBlocks: this.numBlocks,
      freeBlocks: this.numFreeBlocks,
      usage: (this.numBlocks - this.numFreeBlocks) / this.numBlocks,
      cachedFreeBlocks: this.evictable.size,
      sharedBlocks: this.sharedCount,
      numHostBlocks: this.numHostBlocks,
      freeHostBlocks: this.hostFree.length,
      prefixQueriedTokens: this.prefixQueried,
      prefixHitTokens: this.prefixHits,
      prefixHitRate: this.prefixQueried > 0 ? this.prefixHits / this.prefixQueried : 0,
      waste: this.waste,
      forkSharedBlocks: this.forkShared,
      copyOnWrites: this.cows,
    };
  }

  private table(seqId: number): number[] {
    const t = this.tables.get(seqId);
    if (!t) throw new EngineInvariantError(`sequence ${seqId} has no device blocks`);
    return t;
  }

  private hostTable(seqId: number): number[] {
    const t = this.hostTables.get(seqId);
    if (!t) throw new EngineInvariantError(`sequence ${seqId} has no host blocks`);
    return t;
  }

  private distinct(tables: number[][]): number[] {
    return [...new Set(tables.flat())];
  }

  // A block with no holder left goes back to the pool: to the evictable cache if it holds a cached prefix.
  private release(b: number): void {
    if (this.refs[b] <= 0) throw new EngineInvariantError(`block ${b} released with refcount ${this.refs[b]}`);
    if (--this.refs[b] > 0) {
      if (this.refs[b] === 1) this.sharedCount--;
      return;
    }
    this.filledSlots -= this.fillOf[b];
    this.fillOf[b] = 0;
    if (this.entryOf[b]) this.evictable.set(b, true);
    else this.freeList.push(b);
  }

  // A never-cached free block if there is one, else the least recently freed cached block (evicted).
  private takeFresh(): number {
    let b = this.freeList.pop();
    if (b === undefined) {
      const lru = this.evictable.keys().next();
      if (lru.done) throw new EngineInvariantError('no free block');
      b = lru.value;
      this.evictable.delete(b);
      this.cache.delete(this.entryOf[b]!.hash);
      this.entryOf[b] = undefined;
    }
    this.refs[b] = 1;
    return b;
  }

  private addHolder(b: number): void {
    if (++this.refs[b] === 2) this.sharedCount++;
  }

  // Records the tokens a table holding `numTokens` positions keeps in its blocks from index `from` on.
  private fill(table: readonly number[], numTokens: number, from: number): void {
    for (let i = from; i < table.length; i++) {
      const b = table[i];
      const f = Math.max(this.fillOf[b], Math.min(this.blockSize, numTokens - i * this.blockSize));
      this.filledSlots += f - this.fillOf[b];
      this.fillOf[b] = f;
    }
  }

  // An identical block computed elsewhere stays the cached one; this copy remains private.
  private register(b: number, entry: CacheEntry): void {
    if (!this.enablePrefixCaching || this.cache.has(entry.hash) || this.entryOf[b]) return;
    this.cache.set(entry.hash, b);
    this.entryOf[b] = entry;
  }
}
