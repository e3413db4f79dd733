import type { EngineOptions } from './config';
import { LLMEngine } from './frontend/llm-engine';
import { InvalidSamplingParamsError } from './errors';
import type { RequestOutput } from './outputs';
import type { PromptInput } from './prompt-input';
import type { SamplingParamsInit } from './sampling-params';
import type { ChatMessage } from './tokenizer/chat-template';

/** Offline inference, vLLM's LLM: a batch of prompts in, their final outputs back in input order. */
export class LLM {
  private engine: Promise<LLMEngine> | undefined;
  private batches = 0;

  constructor(private readonly options: EngineOptions) {}

  /** The engine, loaded on first use. */
  getEngine(): Promise<LLMEngine> {
    this.engine ??= LLMEngine.create(this.options);
    return this.engine;
  }

  async generate(inputs: PromptInput | PromptInput[], params: SamplingParamsInit | SamplingParamsInit[] = {}): Promise<RequestOutput[]> {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    if (Array.isArray(params) && params.length !== list.length) {
      throw new InvalidSamplingParamsError('params', `a list of ${params.length} sampling parameters for ${list.length} prompts`);
    }
    const engine = await this.getEngine();
    const batch = `llm-${this.batches++}-`;
    const ids = list.map((_, i) => `${batch}${i}`);
    const done = new Map<string, RequestOutput>();
    try {
      // One at a time, so requests arrive (and are served first come, first served) in input order.
      for (const [i, input] of list.entries()) await engine.addRequest(ids[i], input, Array.isArray(params) ? params[i] : params);
      while (done.size < ids.length) {
        for (const out of engine.step()) if (out.finished) done.set(out.requestId, out);
        await engine.stalledOnGrammar();
      }
    } catch (e) {
      // A bad prompt or a failed step leaves nothing of this batch behind in the engine.
      for (const id of ids) engine.abortRequest(id);
      throw e;
    }
    return ids.map((id) => done.get(id)!);
  }

  /** One conversation or a list of them, rendered with the model's chat template. */
  async chat(conversations: ChatMessage[] | ChatMessage[][], params: SamplingParamsInit | SamplingParamsInit[] = {}): Promise<RequestOutput[]> {
    const list = conversations.length > 0 && Array.isArray(conversations[0]) ? (conversations as ChatMessage[][]) : [conversations as ChatMessage[]];
    return this.generate(list.map((messages) => ({ messages })), params);
  }

  close(): void {
    // A load that failed has nothing to free; its error went to the caller that awaited it.
    void this.engine?.then((e) => e.close(), () => undefined);
    this.engine = undefined;
  }
}
