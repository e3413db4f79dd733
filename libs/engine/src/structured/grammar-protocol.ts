// What the engine thread and its grammar thread say to each other, and the shared memory a step's masks use.
import type { GrammarVocab } from './grammar-compiler';
import type { StructuredOutput } from './structured-output';

/** Given to a new grammar thread: the vocabulary and the shared buffers it fills masks into. */
export interface GrammarThreadInit {
  vocab: GrammarVocab;
  stopTokenIds: number[];
  /** [maxRows * words] i32: one bitmask per sampled row of a step. */
  masks: SharedArrayBuffer;
  /** [CONTROL_WORDS * threads] i32: each thread's CTRL_* words (controlWord). */
  control: SharedArrayBuffer;
  /** [maxRows] i32: each row's FillStatus. */
  status: SharedArrayBuffer;
  /** A row whose mask (its matcher advanced, then the mask built) takes longer is FILL_SLOW (grammarMaskTimeoutMs). */
  maskTimeoutMs: number;
  /** This thread's place in the pool: which control words it signals. */
  index: number;
}

/** One row of a step: where its mask goes, its matcher (none: every token allowed) and the tokens it took since the last fill. */
export interface FillRow {
  row: number;
  matcher?: number;
  tokens: number[];
  /** Below minTokens: the grammar's stop tokens are masked unless the grammar allows nothing else. */
  holdStop: boolean;
}

export type ToGrammarThread =
  | { type: 'compile'; grammar: number; so: StructuredOutput }
  | { type: 'free-grammar'; grammar: number }
  | { type: 'new-matcher'; matcher: number; grammar: number; tokens: number[] }
  | { type: 'free-matcher'; matcher: number }
  | { type: 'fill'; generation: number; rows: FillRow[] };

export type FromGrammarThread =
  | { type: 'ready' }
  | { type: 'compiled'; grammar: number; ms: number }
  | { type: 'failed'; grammar: number; message: string }
  /** A message XGrammar threw on outside a compile or a fill (a matcher's replay, a free). */
  | { type: 'error'; message: string };

// Each thread's control words: its last finished fill's generation (what the engine thread waits on) and that
// fill's time in microseconds.
export const CTRL_DONE = 0;
export const CTRL_FILL_US = 1;
export const CONTROL_WORDS = 2;

/** Index of thread `thread`'s control word `word` (CTRL_DONE, CTRL_FILL_US). */
export const controlWord = (thread: number, word: number): number => thread * CONTROL_WORDS + word;

/**
 * A row's outcome. FILL_OK: its mask is valid. FILL_SLOW: valid, but it took longer than maskTimeoutMs, so the
 * request ends now. The others leave no valid mask, and the request fails: XGrammar threw (a grammar it cannot
 * follow), or (bugs on our side, contained to the request) a token the grammar rejects, an unknown matcher, a
 * finished grammar.
 */
export const FILL_STATUS = ['ok', 'a token the grammar rejects', 'an unknown matcher', 'a finished grammar', 'too slow', 'XGrammar failed'] as const;
export const FILL_OK = 0;
export const FILL_REJECTED = 1;
export const FILL_UNKNOWN = 2;
export const FILL_TERMINATED = 3;
export const FILL_SLOW = 4;
export const FILL_FAILED = 5;
