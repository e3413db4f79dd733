import type { SequenceGroup } from '../core/sequence';
import type { CompletionOutput, RequestOutput, RequestTimings, TokenLogprob } from '../outputs';
import type { TextTokenizer } from '../tokenizer/text-tokenizer';
import { SequenceText } from './sequence-text';

/**
 * What the front end keeps of one running request: the core's sequence group (tokens, logprobs, scores),
 * the text of each sequence, prompt logprobs and timings; output() turns them into a RequestOutput.
 */
export class RequestState {
  /** Indexed like group.seqs (Sequence.index). */
  readonly texts: SequenceText[];
  readonly promptLogprobs?: Array<TokenLogprob | null>;
  readonly timings: RequestTimings = { arrivalMs: Date.now() };

  constructor(readonly group: SequenceGroup, readonly prompt: string | undefined, tokenizer: TextTokenizer) {
    this.texts = group.seqs.map(() => new SequenceText(tokenizer, group.promptTokenIds, group.params));
    if (group.params.promptLogprobs !== undefined) this.promptLogprobs = new Array(group.promptTokenIds.length).fill(null);
  }

  get requestId(): string {
    return this.group.requestId;
  }

  // The n sequences a request reports: all of them while running; the n best by cumulative logprob at the end.
  output(finished: boolean): RequestOutput {
    const params = this.group.params;
    let chosen = this.group.seqs.map((seq, i) => ({ seq, text: this.texts[i], i }));
    if (params.bestOf > params.n) {
      if (finished) chosen.sort((a, b) => b.seq.cumulativeLogprob - a.seq.cumulativeLogprob || a.i - b.i);
      chosen = chosen.slice(0, params.n);
    }
    // The sampled tokens' logprobs are computed only when asked for, or to rank best_of; vLLM reports none otherwise.
    const scored = params.logprobs !== undefined || params.bestOf > params.n;
    const outputs: CompletionOutput[] = chosen.map(({ seq, text }, index) => {
      const c: CompletionOutput = {
        index,
        text: text.outputText,
        delta: text.takeDelta(),
        tokenIds: seq.outputTokens(),
        cumulativeLogprob: scored ? seq.cumulativeLogprob : null,
        finishReason: text.finish?.reason ?? null,
      };
      if (params.logprobs !== undefined) c.logprobs = [...seq.logprobs];
      if (text.finish?.stopReason !== undefined) c.stopReason = text.finish.stopReason;
      return c;
    });
    const out: RequestOutput = {
      requestId: this.group.requestId,
      promptTokenIds: this.group.promptTokenIds,
      outputs,
      finished,
      usage: {
        promptTokens: this.group.promptTokenIds.length,
        completionTokens: outputs.reduce((n, c) => n + c.tokenIds.length, 0),
        cachedPromptTokens: this.group.numCachedPromptTokens,
      },
      timings: { ...this.timings },
    };
    if (this.prompt !== undefined) out.prompt = this.prompt;
    if (this.promptLogprobs) out.promptLogprobs = [...this.promptLogprobs];
    return out;
  }
}
