// One step's bitmasks being filled by the grammar thread: posted before the forward, waited for before sampling.
import { EngineInvariantError } from '../errors';
import { CTRL_DONE, CTRL_FILL_US, FILL_OK, FILL_STATUS, type FillRow } from './grammar-protocol';
import type { RemoteMatcher } from './remote-grammar';

/** How long a step waits for its masks before it calls the grammar thread lost (a fill takes milliseconds). */
export const MASK_WAIT_LIMIT_MS = 30_000;

/** The shared buffers a grammar thread fills and the counters the engine reports. */
export interface MaskBuffers {
  masks: Int32Array;
  control: Int32Array;
  status: Int32Array;
  words: number;
  /** Grammar-thread time spent filling, and engine-thread time spent waiting for it, ms. */
  stats: { fillMs: number; waitMs: number };
}

export class PendingMasks {
  constructor(private readonly buf: MaskBuffers, private readonly generation: number, private readonly rows: number) {}

  /** Blocks until the grammar thread has filled this step's rows; the masks [rows * words] (a view, valid until the next fill). */
  wait(): Int32Array {
    const { control, status, stats } = this.buf;
    const start = performance.now();
    for (let cur = Atomics.load(control, CTRL_DONE); cur !== this.generation; cur = Atomics.load(control, CTRL_DONE)) {
      const left = MASK_WAIT_LIMIT_MS - (performance.now() - start);
      if (left <= 0) throw new EngineInvariantError(`the grammar thread filled no masks within ${MASK_WAIT_LIMIT_MS} ms`);
      Atomics.wait(control, CTRL_DONE, cur, left);
    }
    stats.waitMs += performance.now() - start;
    stats.fillMs += Atomics.load(control, CTRL_FILL_US) / 1000;
    for (let i = 0; i < this.rows; i++) {
      if (status[i] !== FILL_OK) throw new EngineInvariantError(`row ${i} of a step's masks: ${FILL_STATUS[status[i]] ?? status[i]}`);
    }
    return this.buf.masks.subarray(0, this.rows * this.buf.words);
  }
}

/** A sampled row as the masks need it: its matcher (if constrained) and whether it is still below minTokens. */
export interface MaskRow {
  matcher?: RemoteMatcher;
  belowMinTokens: boolean;
}

/** Posts the step's rows to their grammar thread, or undefined when no row is constrained. */
export function requestMasks(rows: readonly MaskRow[]): PendingMasks | undefined {
  const link = rows.find((r) => r.matcher)?.matcher?.grammar.link;
  if (!link) return undefined;
  const fill: FillRow[] = rows.map((r) => (r.matcher ? r.matcher.fillRow(r.belowMinTokens) : { tokens: [], holdStop: false }));
  return link.fill(fill);
}
