import type { FinishState } from '../core/sequence';
import type { SamplingParams } from '../sampling-params';
import { IncrementalDetokenizer } from '../tokenizer/incremental-detokenizer';
import { StopStringText } from '../tokenizer/stop-strings';
import type { TextTokenizer } from '../tokenizer/text-tokenizer';

/** The request settings that decide what a sequence's text is. */
export type TextCriteria = Pick<SamplingParams, 'minTokens' | 'stop' | 'includeStopStrInOutput' | 'skipSpecialTokens'>;

/**
 * The text of one generated sequence: detokenized incrementally and cut at stop strings. The core decides
 * eos, stop token ids and lengths; this adds the stop strings it cannot see, in vLLM's order (a stop string
 * found in the same token as a length limit wins), and gives the final finish state.
 */
export class SequenceText {
  finish: FinishState | undefined;
  private numTokens = 0;
  private readonly detok: IncrementalDetokenizer;
  private readonly text: StopStringText;

  constructor(tokenizer: TextTokenizer, promptIds: readonly number[], private readonly criteria: TextCriteria) {
    this.detok = new IncrementalDetokenizer(tokenizer, promptIds, criteria.skipSpecialTokens);
    this.text = new StopStringText(criteria.stop, criteria.includeStopStrInOutput);
  }

  /**
   * Adds one generated token and the core's verdict on it; returns the finish state when the sequence ends
   * here (a stop string the core did not see included: the caller then ends the sequence in the core).
   */
  append(token: number, core: FinishState | undefined): FinishState | undefined {
    if (this.finish) throw new Error('internal: token appended to a finished sequence');
    this.numTokens++;
    const checkStops = this.numTokens >= this.criteria.minTokens;
    // An eos / stop token's text never reaches the output (vLLM drops it even when specials are kept).
    if (core?.reason === 'stop') return this.end(core);
    this.text.append(this.detok.push([token]), checkStops);
    if (this.text.stoppedBy !== undefined) return this.end({ reason: 'stop', stopReason: this.text.stoppedBy });
    return core ? this.end(core) : undefined;
  }

  abort(): FinishState {
    return this.end({ reason: 'abort' });
  }

  get outputText(): string {
    return this.text.text;
  }

  /** Text that became final since the last call (held-back stop-string prefixes excluded while running). */
  takeDelta(): string {
    return this.text.takeDelta(this.finish !== undefined);
  }

  private end(f: FinishState): FinishState {
    // Text still held back for an incomplete character is released, unless a stop string cut the text.
    if (this.text.stoppedBy === undefined) this.text.append(this.detok.flush());
    this.finish = f;
    return f;
  }
}
