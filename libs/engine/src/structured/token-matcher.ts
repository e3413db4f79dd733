// One sequence's place in its grammar: which tokens may come next (as a bitmask) and the tokens it has taken.
import { EngineInvariantError } from '../errors';
import type { WasmBinding, WasmMatcher } from './xgrammar-loader';

/** A compiled grammar that makes matchers synchronously (inside an engine step). */
export interface MatcherSource {
  newMatcher(): TokenMatcher;
}

/**
 * XGrammar's GrammarMatcher for one sequence. XGrammar cannot copy a matcher, so fork() replays the tokens
 * taken so far into a new one (n > 1 siblings fork before any output; beams fork mid-way). The wasm object is
 * freed by dispose(), which the scheduler calls when the sequence ends.
 */
export class TokenMatcher {
  private readonly taken: number[] = [];
  private disposed = false;

  constructor(
    private readonly source: MatcherSource,
    private readonly raw: WasmMatcher,
    private readonly binding: WasmBinding,
    /** Logits width: the mask has ceil(vocabSize / 32) words. */
    readonly vocabSize: number,
    /** Called once when this matcher is freed. */
    private readonly onDispose: () => void,
  ) {}

  get words(): number {
    return Math.ceil(this.vocabSize / 32);
  }

  /** Whether the grammar has ended (it took a stop token): no token may follow. */
  get isTerminated(): boolean {
    return this.raw.IsTerminated();
  }

  /** Writes the allowed-next-token bitmask into dst at offset (this.words words). */
  fillBitmask(dst: Int32Array, offset: number): void {
    // XGrammar aborts when asked for the mask of a finished grammar; only a stop token could follow anyway.
    if (this.isTerminated) throw new EngineInvariantError('bitmask asked of a finished grammar');
    const vec = this.raw.GetNextTokenBitmask(this.vocabSize);
    try {
      dst.set(this.binding.vecIntToView(vec), offset);
    } finally {
      vec.delete();
    }
  }

  /** Advances on a sampled token; false when the grammar does not allow it (the matcher is then unchanged). */
  accept(token: number): boolean {
    if (!this.raw.AcceptToken(token, false)) return false;
    this.taken.push(token);
    return true;
  }

  /** A matcher in this one's state. */
  fork(): TokenMatcher {
    const child = this.source.newMatcher();
    for (const t of this.taken) {
      if (!child.accept(t)) throw new EngineInvariantError(`grammar replay rejected token ${t}`);
    }
    return child;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.raw.delete();
    this.onDispose();
  }
}
