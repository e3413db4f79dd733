import type { FinishReason, TokenLogprob } from './outputs';
import { IncrementalDetokenizer } from './tokenizer/incremental-detokenizer';
import { StopStringText } from './tokenizer/stop-strings';
import type { TextTokenizer } from './tokenizer/text-tokenizer';

/** The request settings that decide when a sequence ends and what its text is. */
export interface StopCriteria {
  maxTokens: number;
  minTokens: number;
  stop: readonly string[];
  stopTokenIds: readonly number[];
  ignoreEos: boolean;
  includeStopStrInOutput: boolean;
  skipSpecialTokens: boolean;
}

export interface FinishState {
  reason: FinishReason;
  stopReason?: string | number;
}

/**
 * One generated sequence as the client sees it: token ids, logprobs, text (detokenized incrementally and
 * cut at stop strings), and why it ended. Stop checks follow vLLM's order: min_tokens, eos, stop token ids,
 * stop strings, then max_tokens / model length.
 */
export class SequenceOutput {
  readonly tokenIds: number[] = [];
  readonly logprobs: TokenLogprob[] = [];
  cumulativeLogprob = 0;
  finish: FinishState | undefined;
  private readonly detok: IncrementalDetokenizer;
  private readonly text: StopStringText;

  constructor(
    tokenizer: TextTokenizer,
    promptIds: readonly number[],
    private readonly criteria: StopCriteria,
    private readonly eosTokenIds: readonly number[],
    private readonly maxModelLen: number,
    private readonly promptLen = promptIds.length,
  ) {
    this.detok = new IncrementalDetokenizer(tokenizer, promptIds, criteria.skipSpecialTokens);
    this.text = new StopStringText(criteria.stop, criteria.includeStopStrInOutput);
  }

  /** Appends one sampled token; returns the finish state if this token ended the sequence. */
  append(step: TokenLogprob): FinishState | undefined {
    if (this.finish) throw new Error('internal: token appended to a finished sequence');
    const c = this.criteria;
    this.tokenIds.push(step.token);
    this.logprobs.push(step);
    this.cumulativeLogprob += step.logprob;
    const n = this.tokenIds.length;
    const isEos = !c.ignoreEos && this.eosTokenIds.includes(step.token);
    const isStopToken = c.stopTokenIds.includes(step.token);
    // An eos / stop token's text never reaches the output (vLLM drops it even when specials are kept).
    if (!(n >= c.minTokens && (isEos || isStopToken))) this.text.append(this.detok.push([step.token]), n >= c.minTokens);
    if (n >= c.minTokens) {
      if (isEos) return this.end({ reason: 'stop' });
      if (isStopToken) return this.end({ reason: 'stop', stopReason: step.token });
      if (this.text.stoppedBy !== undefined) return this.end({ reason: 'stop', stopReason: this.text.stoppedBy });
    }
    if (n >= c.maxTokens || this.promptLen + n >= this.maxModelLen) return this.end({ reason: 'length' });
    return undefined;
  }

  abort(): FinishState {
    return this.end({ reason: 'abort' });
  }

  private end(f: FinishState): FinishState {
    if (f.reason !== 'stop' || f.stopReason === undefined || typeof f.stopReason === 'number') {
      if (this.text.stoppedBy === undefined) this.text.append(this.detok.flush());
    }
    this.finish = f;
    return f;
  }

  get outputText(): string {
    return this.text.text;
  }

  /** Text that became final since the last call (held-back stop-string prefixes excluded while running). */
  takeDelta(): string {
    return this.text.takeDelta(this.finish !== undefined);
  }
}
