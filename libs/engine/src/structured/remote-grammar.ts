// The engine thread's handles on what the grammar thread holds: a compiled constraint, and one sequence's
// place in it. They only record and post; the grammar thread does XGrammar's work.
import type { FillRow, ToGrammarThread } from './grammar-protocol';
import { Held } from './held-lru';
import type { PendingMasks } from './pending-masks';
import type { StructuredOutput } from './structured-output';

/** A constrained row of a step: its matcher, and whether it is still below minTokens (its end held back). */
export interface MaskRequest {
  matcher: RemoteMatcher;
  holdStop: boolean;
}

/** What the handles need of the service that owns the grammar threads. */
export interface GrammarLink {
  /** Whether masks can be filled now (no compile or restart under way): constrained sequences wait otherwise. */
  readonly ready: boolean;
  readonly vocabSize: number;
  readonly stopTokenIds: readonly number[];
  /** To every thread (a grammar's message), or to one (a matcher's). */
  post(m: ToGrammarThread, thread?: number): void;
  /** Posts one step's rows (undefined: unconstrained) to be filled while the forward runs; the sampler waits on the result. */
  fill(rows: ReadonlyArray<MaskRequest | undefined>): PendingMasks;
  /** A new matcher's id and the thread that will hold it. */
  nextMatcher(): { id: number; thread: number };
  onMatcher(m: RemoteMatcher, live: boolean): void;
  onGrammarFreed(g: RemoteGrammar): void;
}

/** A compiled constraint in the grammar thread; held while a request may still make matchers from it. */
export class RemoteGrammar extends Held {
  constructor(readonly id: number, readonly so: StructuredOutput, readonly link: GrammarLink) {
    super();
  }

  get ready(): boolean {
    return this.link.ready;
  }

  /** A matcher at the grammar's start, or (a fork, a replay) after the given tokens. */
  newMatcher(tokens: readonly number[] = []): RemoteMatcher {
    this.hold();
    return new RemoteMatcher(this, tokens);
  }

  /** Freed in the grammar thread once out of the cache and unheld. */
  protected free(): void {
    this.link.post({ type: 'free-grammar', grammar: this.id });
    this.link.onGrammarFreed(this);
  }
}

/**
 * One sequence's place in its grammar. Tokens are recorded here and sent with the next fill, where the grammar
 * thread advances its matcher before building the mask; a fork replays the tokens taken so far.
 */
export class RemoteMatcher {
  readonly id: number;
  /** The grammar thread that holds this matcher and fills its rows. */
  readonly thread: number;
  private readonly taken: number[];
  private sent: number;
  private disposed = false;

  constructor(readonly grammar: RemoteGrammar, tokens: readonly number[]) {
    ({ id: this.id, thread: this.thread } = grammar.link.nextMatcher());
    this.taken = [...tokens];
    this.sent = this.taken.length;
    this.create();
    grammar.link.onMatcher(this, true);
  }

  get vocabSize(): number {
    return this.grammar.link.vocabSize;
  }

  /**
   * Whether the grammar has ended: XGrammar ends a grammar only on one of its stop tokens, which the mask
   * allows only where the grammar may end, so the last token taken says it.
   */
  get isTerminated(): boolean {
    return this.taken.length > 0 && this.grammar.link.stopTokenIds.includes(this.taken[this.taken.length - 1]);
  }

  /** Records a sampled token (the mask allowed it; the grammar thread checks it at the next fill). */
  accept(token: number): void {
    this.taken.push(token);
  }

  fork(): RemoteMatcher {
    return this.grammar.newMatcher(this.taken);
  }

  /** This row of the next fill: the tokens the grammar thread has not seen yet. */
  fillRow(holdStop: boolean): Omit<FillRow, 'row'> {
    const tokens = this.taken.slice(this.sent);
    this.sent = this.taken.length;
    return { matcher: this.id, tokens, holdStop };
  }

  /** Makes this matcher again in a new grammar thread, from the tokens taken so far. */
  create(): void {
    this.grammar.link.post({ type: 'new-matcher', matcher: this.id, grammar: this.grammar.id, tokens: this.taken }, this.thread);
    this.sent = this.taken.length;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.grammar.link.post({ type: 'free-matcher', matcher: this.id }, this.thread);
    this.grammar.link.onMatcher(this, false);
    this.grammar.release();
  }
}
