import { EngineError } from '../errors';
import { normalizePrompt, type PromptInput } from '../prompt-input';
import type { ChatTemplate } from '../tokenizer/chat-template';
import type { TextTokenizer } from '../tokenizer/text-tokenizer';
import { TokenizerError } from '../tokenizer/tokenizer-error';

/** A prompt as the core runs it: token ids, and the text they came from when there was one. */
export interface ProcessedPrompt {
  prompt?: string;
  promptTokenIds: number[];
}

/**
 * Prompt input → token ids, asynchronously through the one loaded tokenizer (the binding's encoder runs off
 * the event loop), so the step loop never blocks on tokenization.
 */
export class InputProcessor {
  constructor(
    private readonly tokenizer: TextTokenizer,
    private readonly chatTemplate: ChatTemplate | undefined,
    private readonly vocabSize: number,
    private readonly modelDir: string,
  ) {}

  async process(requestId: string, input: PromptInput): Promise<ProcessedPrompt> {
    const p = normalizePrompt(requestId, input);
    if (p.kind === 'tokens') {
      const bad = p.ids.find((t) => t >= this.vocabSize);
      if (bad !== undefined) throw new EngineError('INVALID_REQUEST', `request ${requestId}: token id ${bad} is outside the vocabulary (${this.vocabSize})`);
      return { promptTokenIds: p.ids };
    }
    if (p.kind === 'text') return { prompt: p.text, promptTokenIds: await this.tokenizer.encode(p.text, true) };
    if (!this.chatTemplate) throw new TokenizerError('CHAT_TEMPLATE_MISSING', `${this.modelDir} has no chat template`);
    const text = this.chatTemplate.render(p.messages);
    // The template writes the special tokens itself (bos included).
    return { prompt: text, promptTokenIds: await this.tokenizer.encode(text, false) };
  }
}
