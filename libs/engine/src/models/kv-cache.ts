import type { Backend, DType, Tensor } from '@sluice/cuda-kernels';
/** A block move (source, destination), as the block manager hands them out. */
type BlockPair = readonly [number, number];

export interface KvCacheShape {
  numLayers: number;
  numBlocks: number;
  numHostBlocks: number;
  blockSize: number;
  numKvHeads: number;
  headDim: number;
  dtype: DType;
}

/** Bytes one block takes across every layer, keys and values. */
export function kvBlockBytes(s: Omit<KvCacheShape, 'numBlocks' | 'numHostBlocks'>): number {
  const elem = s.dtype === 'f32' ? 4 : 2;
  return 2 * s.numLayers * s.blockSize * s.numKvHeads * s.headDim * elem;
}

/**
 * The paged KV cache memory: per layer, keys and values [numBlocks, blockSize, nKv, D] on the device and,
 * for swap preemption, the same layout in pinned host memory. The block manager decides; this moves bytes.
 */
export class KvCache {
  readonly k: Tensor[] = [];
  readonly v: Tensor[] = [];
  private readonly hostK: Tensor[] = [];
  private readonly hostV: Tensor[] = [];
  private readonly pairs: Tensor;
  private readonly maxPairs: number;

  constructor(private readonly backend: Backend, s: KvCacheShape) {
    const dev = [s.numBlocks, s.blockSize, s.numKvHeads, s.headDim];
    const host = [s.numHostBlocks, s.blockSize, s.numKvHeads, s.headDim];
    for (let l = 0; l < s.numLayers; l++) {
      this.k.push(backend.empty(dev, s.dtype));
      this.v.push(backend.empty(dev, s.dtype));
      if (s.numHostBlocks > 0) {
        this.hostK.push(backend.emptyPinned(host, s.dtype));
        this.hostV.push(backend.emptyPinned(host, s.dtype));
      }
    }
    // One step never moves more pairs than there are device blocks.
    this.maxPairs = Math.max(s.numBlocks, s.numHostBlocks);
    this.pairs = backend.empty([this.maxPairs, 2], 'i32');
  }

  /** Runs a step's block moves in the scheduler's order: swap out, swap in, copy-on-write. */
  apply(swapOut: readonly BlockPair[], swapIn: readonly BlockPair[], copies: readonly BlockPair[]): void {
    const b = this.backend;
    if (swapOut.length > 0) {
      const p = this.stage(swapOut);
      this.k.forEach((k, l) => {
        b.swapBlocks(k, this.hostK[l], p);
        b.swapBlocks(this.v[l], this.hostV[l], p);
      });
    }
    if (swapIn.length > 0) {
      const p = this.stage(swapIn);
      this.k.forEach((k, l) => {
        b.swapBlocks(this.hostK[l], k, p);
        b.swapBlocks(this.hostV[l], this.v[l], p);
      });
    }
    if (copies.length > 0) b.copyBlocks([...this.k, ...this.v], this.stage(copies));
  }

  free(): void {
    for (const t of [...this.k, ...this.v, ...this.hostK, ...this.hostV, this.pairs]) if (!t.freed) t.free();
  }

  private stage(pairs: readonly BlockPair[]): Tensor {
    const view = this.backend.narrow(this.pairs, 0, pairs.length);
    this.backend.copyFromHost(view, Int32Array.from(pairs.flat()));
    return view;
  }
}
