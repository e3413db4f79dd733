import { Template } from '@huggingface/jinja';
import { TokenizerError } from './tokenizer-error';

export interface ChatMessage {
  role: string;
  content: string;
}

/** A model's Jinja chat template, compiled once and rendered per conversation. */
export class ChatTemplate {
  private readonly template: Template;

  constructor(
    source: string,
    private readonly specialTokens: Record<string, string | undefined>,
  ) {
    try {
      this.template = new Template(source);
    } catch (e) {
      throw new TokenizerError('CHAT_TEMPLATE_FAILED', `chat template does not parse: ${(e as Error).message}`);
    }
  }

  render(messages: readonly ChatMessage[], addGenerationPrompt = true): string {
    messages.forEach((m, i) => {
      if (typeof m?.role !== 'string' || typeof m?.content !== 'string') {
        throw new TokenizerError('CHAT_TEMPLATE_FAILED', `message ${i} needs string "role" and "content"`);
      }
    });
    try {
      return this.template.render({ ...this.specialTokens, messages, add_generation_prompt: addGenerationPrompt });
    } catch (e) {
      throw new TokenizerError('CHAT_TEMPLATE_FAILED', `chat template failed to render: ${(e as Error).message}`);
    }
  }
}

/** bos_token etc. from tokenizer_config.json, which stores each as a string or as {content}. */
export function specialTokensOf(tokenizerConfig: Record<string, unknown>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const key of ['bos_token', 'eos_token', 'pad_token', 'unk_token']) {
    const v = tokenizerConfig[key] as string | { content?: string } | undefined | null;
    out[key] = typeof v === 'string' ? v : (v?.content ?? undefined);
  }
  return out;
}
