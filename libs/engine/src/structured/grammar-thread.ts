// The grammar thread: owns an XGrammar instance (compiler, compiled grammars, one matcher per constrained
// sequence) so compiles never run on the engine's thread, and fills each step's bitmasks while the forward runs.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { GrammarCompiler, type CompiledGrammar } from './grammar-compiler';
import {
  CTRL_DONE, CTRL_FILL_US, controlWord, FILL_FAILED, FILL_OK, FILL_REJECTED, FILL_SLOW, FILL_TERMINATED, FILL_UNKNOWN,
  type FillRow, type FromGrammarThread, type GrammarThreadInit, type ToGrammarThread,
} from './grammar-protocol';
import type { TokenMatcher } from './token-matcher';

function requirePort(): MessagePort {
  if (!parentPort) throw new Error('structured/grammar-thread must run in a worker_thread started by GrammarService');
  return parentPort;
}

class GrammarThread {
  private readonly grammars = new Map<number, CompiledGrammar>();
  private readonly matchers = new Map<number, TokenMatcher>();
  private readonly masks: Int32Array;
  private readonly control: Int32Array;
  private readonly status: Int32Array;
  private readonly words: number;
  private readonly stop: number[];
  private readonly maskTimeoutMs: number;
  private readonly done: number;
  private readonly fillUs: number;

  constructor(private readonly port: MessagePort, private readonly compiler: GrammarCompiler, init: GrammarThreadInit) {
    this.masks = new Int32Array(init.masks);
    this.control = new Int32Array(init.control);
    this.status = new Int32Array(init.status);
    this.words = Math.ceil(init.vocab.tokens.length / 32);
    this.stop = init.stopTokenIds;
    this.maskTimeoutMs = init.maskTimeoutMs;
    this.done = controlWord(init.index, CTRL_DONE);
    this.fillUs = controlWord(init.index, CTRL_FILL_US);
  }

  async onMessage(m: ToGrammarThread): Promise<void> {
    switch (m.type) {
      case 'compile':
        return this.compile(m.grammar, m);
      case 'free-grammar':
        this.grammars.get(m.grammar)?.release();
        this.grammars.delete(m.grammar);
        return;
      case 'new-matcher': {
        const matcher = this.grammars.get(m.grammar)?.newMatcher();
        // A grammar the engine freed meanwhile: the fill reports the unknown matcher.
        if (!matcher) return;
        this.matchers.set(m.matcher, matcher);
        // Replays a fork's or a restarted thread's sequence; a rejected token shows up as that row's fill status.
        for (const t of m.tokens) if (!matcher.accept(t)) break;
        return;
      }
      case 'free-matcher':
        this.matchers.get(m.matcher)?.dispose();
        this.matchers.delete(m.matcher);
        return;
      case 'fill':
        return this.fill(m.generation, m.rows);
    }
  }

  private async compile(id: number, m: Extract<ToGrammarThread, { type: 'compile' }>): Promise<void> {
    const start = performance.now();
    try {
      this.grammars.set(id, await this.compiler.compile(m.so));
      this.post({ type: 'compiled', grammar: id, ms: performance.now() - start });
    } catch (e) {
      // The engine thread wraps it in its own InvalidStructuredOutputError, prefix and all.
      this.post({ type: 'failed', grammar: id, message: (e as Error).message.replace(/^structured output: /, '') });
    }
  }

  // This thread's rows' masks and statuses, then the generation the engine thread waits for: always posted, so a
  // row XGrammar fails on fails its request and never the step.
  private fill(generation: number, rows: FillRow[]): void {
    const start = performance.now();
    try {
      for (const r of rows) this.status[r.row] = this.fillRow(r);
    } finally {
      Atomics.store(this.control, this.fillUs, Math.round((performance.now() - start) * 1000));
      Atomics.store(this.control, this.done, generation);
      Atomics.notify(this.control, this.done);
    }
  }

  // One row: its matcher advanced on the tokens sampled since the last fill, then its mask, timed together.
  private fillRow(r: FillRow): number {
    const W = this.words;
    const i = r.row;
    if (r.matcher === undefined) {
      this.masks.fill(-1, i * W, (i + 1) * W);
      return FILL_OK;
    }
    const matcher = this.matchers.get(r.matcher);
    if (!matcher) return FILL_UNKNOWN;
    const start = performance.now();
    try {
      if (!r.tokens.every((t) => matcher.accept(t))) return FILL_REJECTED;
      if (matcher.isTerminated) return FILL_TERMINATED;
      matcher.fillBitmask(this.masks, i * W);
    } catch {
      return FILL_FAILED;
    }
    if (r.holdStop) this.holdStop(i * W);
    // Its cost grows with the text on an ambiguous grammar: past the limit the request ends, before it slows every step more.
    return performance.now() - start > this.maskTimeoutMs ? FILL_SLOW : FILL_OK;
  }

  // Below minTokens the text may not end yet, unless ending is all the grammar allows (then the grammar wins).
  private holdStop(offset: number): void {
    const bit = (t: number) => [offset + (t >> 5), 1 << (t & 31)] as const;
    const kept = this.stop.map(bit).map(([w, b]) => this.masks[w] & b);
    for (const [w, b] of this.stop.map(bit)) this.masks[w] &= ~b;
    if (this.masks.subarray(offset, offset + this.words).some((x) => x !== 0)) return;
    this.stop.map(bit).forEach(([w], j) => (this.masks[w] |= kept[j]));
  }

  private post(m: FromGrammarThread): void {
    this.port.postMessage(m);
  }
}

async function main(port: MessagePort, init: GrammarThreadInit): Promise<void> {
  // One entry: the engine thread keeps the cache, and this thread holds what the engine holds.
  const compiler = await GrammarCompiler.create(init.vocab, init.stopTokenIds, 1);
  const thread = new GrammarThread(port, compiler, init);
  // Messages are handled one at a time, in order: a matcher exists before the fill that uses it.
  let queue = Promise.resolve();
  port.on('message', (m: ToGrammarThread) => {
    // A message XGrammar throws on must not stop the ones after it; the fill that needs its matcher reports it.
    queue = queue.then(() => thread.onMessage(m)).catch((e: Error) => port.postMessage({ type: 'error', message: `${m.type}: ${e.message}` } satisfies FromGrammarThread));
  });
  port.postMessage({ type: 'ready' } satisfies FromGrammarThread);
}

void main(requirePort(), workerData as GrammarThreadInit);
