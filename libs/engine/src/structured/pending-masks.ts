// One step's bitmasks being filled by the grammar thread: posted before the forward, waited for before sampling.
import { EngineInvariantError, InvalidStructuredOutputError } from '../errors';
import { CTRL_DONE, CTRL_FILL_US, controlWord, FILL_FAILED, FILL_OK, FILL_SLOW, FILL_STATUS } from './grammar-protocol';
import type { RemoteMatcher } from './remote-grammar';

/**
 * How long a step waits for its masks before it calls the grammar thread lost, beyond grammarMaskTimeoutMs per
 * row (a fill takes milliseconds; a row may run up to its limit once before its request ends).
 */
export const MASK_WAIT_LIMIT_MS = 30_000;

/** The shared buffers a grammar thread fills and the counters the engine reports. */
export interface MaskBuffers {
  masks: Int32Array;
  control: Int32Array;
  status: Int32Array;
  words: number;
  /** grammarMaskTimeoutMs: a row that took longer ended its request (FILL_SLOW). */
  maskTimeoutMs: number;
  /** Grammar-thread time spent filling, and engine-thread time spent waiting for it, ms; rows whose request a fill ended. */
  stats: { fillMs: number; waitMs: number; failedRows: number };
}

/** A step's masks, and per row why its request must end now (absent: the row is fine). */
export interface FilledMasks {
  /** [rows * words], a view valid until the next fill; a row without a valid mask allows every token. */
  masks: Int32Array;
  failures: Map<number, InvalidStructuredOutputError>;
}

export class PendingMasks {
  constructor(
    private readonly buf: MaskBuffers,
    private readonly generation: number,
    private readonly rows: number,
    /** The grammar threads given rows of this fill. */
    private readonly threads: readonly number[],
    /** Called when XGrammar threw on a row: its instance in the grammar thread may be unusable now. */
    private readonly onXGrammarFailed: () => void = () => undefined,
  ) {}

  /** Blocks until the grammar threads have filled this step's rows. */
  wait(): FilledMasks {
    const { control, stats } = this.buf;
    const start = performance.now();
    const limit = MASK_WAIT_LIMIT_MS + this.rows * this.buf.maskTimeoutMs;
    for (const k of this.threads) {
      const done = controlWord(k, CTRL_DONE);
      for (let cur = Atomics.load(control, done); cur !== this.generation; cur = Atomics.load(control, done)) {
        const left = limit - (performance.now() - start);
        if (left <= 0) throw new EngineInvariantError(`grammar thread ${k} filled no masks within ${limit} ms`);
        Atomics.wait(control, done, cur, left);
      }
      stats.fillMs += Atomics.load(control, controlWord(k, CTRL_FILL_US)) / 1000;
    }
    stats.waitMs += performance.now() - start;
    const masks = this.buf.masks.subarray(0, this.rows * this.buf.words);
    return { masks, failures: this.failures(masks) };
  }

  // Rows whose request ends now; those left without a valid mask are opened to every token (the draw is dropped).
  private failures(masks: Int32Array): Map<number, InvalidStructuredOutputError> {
    const { status, words, maskTimeoutMs } = this.buf;
    const out = new Map<number, InvalidStructuredOutputError>();
    for (let i = 0; i < this.rows; i++) {
      const s = status[i];
      if (s === FILL_OK) continue;
      if (s === FILL_SLOW) {
        out.set(i, new InvalidStructuredOutputError(`computing one next-token mask took longer than grammarMaskTimeoutMs (${maskTimeoutMs} ms)`));
        continue;
      }
      masks.fill(-1, i * words, (i + 1) * words);
      const what = s === FILL_FAILED ? 'XGrammar failed computing the next-token mask' : `the grammar thread found ${FILL_STATUS[s] ?? `status ${s}`} (a bug)`;
      out.set(i, new InvalidStructuredOutputError(what));
    }
    this.buf.stats.failedRows += out.size;
    if ([...out.keys()].some((i) => status[i] === FILL_FAILED)) this.onXGrammarFailed();
    return out;
  }
}

/** A sampled row as the masks need it: its matcher (if constrained) and whether it is still below minTokens. */
export interface MaskRow {
  matcher?: RemoteMatcher;
  belowMinTokens: boolean;
}

/** Posts the step's rows to their grammar threads, or undefined when no row is constrained. */
export function requestMasks(rows: readonly MaskRow[]): PendingMasks | undefined {
  const link = rows.find((r) => r.matcher)?.matcher?.grammar.link;
  if (!link) return undefined;
  return link.fill(rows.map((r) => (r.matcher ? { matcher: r.matcher, holdStop: r.belowMinTokens } : undefined)));
}
