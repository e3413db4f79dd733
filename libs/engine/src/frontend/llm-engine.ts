import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { EngineConfig, EngineOptions } from '../config';
import { validateEngineOptions } from '../config';
import { createEngineCore, MAX_LOGPROBS } from '../core/create-core';
import type { EngineCore } from '../core/engine-core';
import { profileForwardPass, type ForwardProfile } from '../core/forward-profile';
import type { SchedulerStats, SeqUpdate } from '../core/scheduler';
import { SequenceGroup } from '../core/sequence';
import type { PromptTokenScore, SchedulerOutput } from '../core/step';
import { EngineError, InvalidSamplingParamsError, RequestAbortedError } from '../errors';
import { resolveModelFiles, type ModelFiles } from '../model/model-files';
import type { RequestOutput } from '../outputs';
import type { PromptInput } from '../prompt-input';
import { SamplingParams, type SamplingParamsInit } from '../sampling-params';
import { grammarVocab } from '../structured/grammar-compiler';
import { GrammarService, type GrammarServiceStats } from '../structured/grammar-service';
import type { RemoteGrammar } from '../structured/remote-grammar';
import { ChatTemplate, specialTokensOf } from '../tokenizer/chat-template';
import { TextTokenizer } from '../tokenizer/text-tokenizer';
import { BeamClient } from './beam-client';
import { InputProcessor, type ProcessedPrompt } from './input-processor';
import { RequestState } from './request-state';

export { MAX_LOGPROBS };

export interface EngineStats extends SchedulerStats {
  /** Requests added and not yet finished or aborted. */
  numRequests: number;
  promptTokensTotal: number;
  generationTokensTotal: number;
  stepCount: number;
  /** Steps scheduled and launched before the previous one was read (asyncScheduling). */
  stepsScheduledAhead: number;
  /** Engine-thread time spent on structured-output bitmasks (waiting for them, uploading, applying), ms, summed over steps. */
  grammarMaskMs: number;
  /** The grammar thread's compiles, cache, restarts and mask-filling time; absent before the first constrained request. */
  grammar?: GrammarServiceStats;
}

/**
 * The engine's front end, vLLM's LLMEngine: requests in (text, chat or token ids, with sampling parameters
 * checked once), RequestOutputs out. It tokenizes, hands token ids to the core, turns each step's tokens into
 * text with stop strings and best-of, and runs beam search as a client of the core.
 */
export class LLMEngine {
  readonly modelName: string;
  private readonly requests = new Map<string, RequestState>();
  /** Requests whose prompt is being tokenized; an abort meanwhile marks them. */
  private readonly tokenizing = new Map<string, { aborted: boolean }>();
  private readonly beams: BeamClient;
  private readonly input: InputProcessor;
  /** Settles when the last added request has reached the core: requests enter it in the order they were added. */
  private lastAdd: Promise<unknown> = Promise.resolve();
  private promptTokensTotal = 0;
  private generationTokensTotal = 0;
  private stepCount = 0;
  /** Sequences the last step ran: none while everything left waits for the grammar thread. */
  private lastStepSize = 0;
  private closed = false;
  /** The grammar thread over this model's vocabulary, started at the first structured-output request. */
  private grammars: GrammarService | undefined;

  private constructor(
    readonly config: EngineConfig,
    readonly files: ModelFiles,
    readonly tokenizer: TextTokenizer,
    chatTemplate: ChatTemplate | undefined,
    /** The core beneath: its scheduler and block manager are read by benchmarks and tests. */
    readonly core: EngineCore,
  ) {
    this.modelName = basename(files.dir);
    this.input = new InputProcessor(tokenizer, chatTemplate, files.config.vocabSize, files.dir);
    this.beams = new BeamClient({
      fork: (seq) => core.fork(seq),
      appendToken: (seq, token) => core.appendToken(seq, token),
      finishSeq: (seq) => core.finishSeq(seq, { reason: 'abort' }),
      decode: (ids, skipSpecialTokens) => tokenizer.decode(ids, skipSpecialTokens),
      eosTokenIds: files.generation.eosTokenIds,
    });
  }

  /** Loads the model directory; throws ModelLoadError, TokenizerError or InvalidEngineOptionsError. */
  static async create(options: EngineOptions): Promise<LLMEngine> {
    validateEngineOptions(options);
    const files = resolveModelFiles(options.model);
    const tokenizer = TextTokenizer.fromFile(files.tokenizerJson);
    const chatTemplate = files.chatTemplate === undefined ? undefined : new ChatTemplate(files.chatTemplate, specialTokensOf(files.tokenizerConfig));
    const { core, config } = createEngineCore(options, files);
    return new LLMEngine(config, files, tokenizer, chatTemplate, core);
  }

  /** Token ids of a prompt as this engine would run it (chat rendered by the template, bos added to plain text). */
  encodePrompt(requestId: string, input: PromptInput): Promise<ProcessedPrompt> {
    return this.input.process(requestId, input);
  }

  /**
   * Tokenizes and queues a request; rejects (leaving the engine unchanged) when it is invalid, could never run,
   * or was aborted while its prompt was being tokenized.
   */
  async addRequest(requestId: string, input: PromptInput, params: SamplingParams | SamplingParamsInit = {}, options: { priority?: number } = {}): Promise<void> {
    this.assertOpen();
    if (typeof requestId !== 'string' || requestId.length === 0) throw new EngineError('INVALID_REQUEST', `request id must be a non-empty string, got ${JSON.stringify(requestId)}`);
    if (this.requests.has(requestId) || this.beams.has(requestId) || this.tokenizing.has(requestId)) {
      throw new EngineError('DUPLICATE_REQUEST', `request ${requestId} is already running`);
    }
    const sp = params instanceof SamplingParams ? params : new SamplingParams(params);
    checkEngineLimits(sp);
    const priority = options.priority ?? 0;
    if (!Number.isFinite(priority)) throw new EngineError('INVALID_REQUEST', `request ${requestId}: priority must be a finite number, got ${priority}`);
    const mark = { aborted: false };
    this.tokenizing.set(requestId, mark);
    const tokenized = this.input.process(requestId, input);
    if (!sp.structuredOutput) return this.joinLine(requestId, tokenized, undefined, mark, sp, priority);
    // A constrained request joins the line once its grammar has compiled (on the grammar thread): requests
    // added after it are not held back by its compile, and steps go on meanwhile.
    let grammar: RemoteGrammar;
    try {
      grammar = await this.grammarService().compile(sp.structuredOutput);
    } catch (e) {
      tokenized.catch(() => undefined);
      this.tokenizing.delete(requestId);
      throw e;
    }
    return this.joinLine(requestId, tokenized, grammar, mark, sp, priority);
  }

  // Prompts tokenize side by side, but enter the core in the order they joined the line (first come, first served).
  private joinLine(
    requestId: string, tokenized: Promise<ProcessedPrompt>, grammar: RemoteGrammar | undefined, mark: { aborted: boolean }, sp: SamplingParams, priority: number,
  ): Promise<void> {
    const entered = this.enter(requestId, tokenized, grammar, this.lastAdd, mark, sp, priority);
    this.lastAdd = entered.catch(() => undefined);
    return entered;
  }

  private async enter(
    requestId: string, tokenized: Promise<ProcessedPrompt>, grammar: RemoteGrammar | undefined,
    before: Promise<unknown>, mark: { aborted: boolean }, sp: SamplingParams, priority: number,
  ): Promise<void> {
    let prompt: ProcessedPrompt;
    try {
      prompt = await tokenized;
    } catch (e) {
      grammar?.release();
      throw e;
    } finally {
      await before;
      this.tokenizing.delete(requestId);
    }
    let group: SequenceGroup;
    try {
      if (mark.aborted || this.closed) throw new RequestAbortedError(requestId);
      group = new SequenceGroup(requestId, prompt.promptTokenIds, sp, priority, sp.useBeamSearch, grammar);
    } finally {
      // The group's matchers hold the grammar from here on.
      grammar?.release();
    }
    try {
      this.core.add(group);
    } catch (e) {
      group.releaseMatchers();
      throw e;
    }
    if (sp.useBeamSearch) this.beams.add(group, prompt.prompt);
    else this.requests.set(requestId, new RequestState(group, prompt.prompt, this.tokenizer));
    this.promptTokensTotal += prompt.promptTokenIds.length;
  }

  /** One iteration: the core's step, then detokenizing, stop strings, best-of and beam search on its tokens. */
  step(): RequestOutput[] {
    this.assertOpen();
    const { plan, updates, promptScores } = this.core.step();
    this.stepCount++;
    this.lastStepSize = plan.scheduled.length;
    this.notePlan(plan, promptScores);
    const outputs: RequestOutput[] = [];
    const progressed = new Set<RequestState>();
    const failed = new Map<string, EngineError>();
    for (const u of updates) {
      if (u.error) {
        if (!failed.has(u.seq.group.requestId)) failed.set(u.seq.group.requestId, u.error);
        continue;
      }
      if (u.seq.group.clientDriven) {
        const final = this.beams.onCandidates(u.seq, u.result);
        if (final) outputs.push(final);
        continue;
      }
      const state = this.requests.get(u.seq.group.requestId);
      if (!state) continue;
      this.applyToken(state, u);
      progressed.add(state);
    }
    const now = Date.now();
    for (const state of progressed) {
      const finished = state.group.isFinished;
      if (finished) {
        state.timings.finishedMs = now;
        this.requests.delete(state.requestId);
      }
      if (!failed.has(state.requestId)) outputs.push(state.output(finished));
    }
    for (const [requestId, error] of failed) {
      const out = this.abortRequest(requestId);
      if (out) outputs.push({ ...out, error });
    }
    this.grammars?.afterStep();
    return outputs;
  }

  /** Stops a request now and frees its blocks; its final output, or undefined when the id is unknown. */
  abortRequest(requestId: string): RequestOutput | undefined {
    const mark = this.tokenizing.get(requestId);
    if (mark) {
      mark.aborted = true;
      return undefined;
    }
    if (this.beams.has(requestId)) {
      const out = this.beams.abort(requestId);
      this.core.abort(requestId);
      return out;
    }
    const state = this.requests.get(requestId);
    if (!state) return undefined;
    this.core.abort(requestId);
    for (const t of state.texts) if (!t.finish) t.abort();
    state.timings.finishedMs = Date.now();
    this.requests.delete(requestId);
    return state.output(true);
  }

  /**
   * When the last step ran nothing because every request left is constrained and the grammar thread is busy
   * compiling: a promise for when it is free (a step loop awaits it instead of spinning); otherwise undefined.
   */
  stalledOnGrammar(): Promise<void> | undefined {
    return this.lastStepSize === 0 && this.grammars && !this.grammars.ready ? this.grammars.whenReady() : undefined;
  }

  hasUnfinishedRequests(): boolean {
    return this.requests.size + this.beams.size > 0;
  }

  stats(): EngineStats {
    return {
      ...this.core.stats(),
      numRequests: this.requests.size + this.beams.size,
      promptTokensTotal: this.promptTokensTotal,
      generationTokensTotal: this.generationTokensTotal,
      stepCount: this.stepCount,
      stepsScheduledAhead: this.core.stepsScheduledAhead,
      grammarMaskMs: this.core.grammarMaskMs,
      grammar: this.grammars?.stats(),
    };
  }

  /**
   * Runs one step of the largest batch this engine's limits allow on buffers and a cache of its own (what
   * create does on CUDA to size the KV cache) and reports the memory it took; the engine's state is untouched.
   */
  profileForwardPass(): ForwardProfile {
    this.assertOpen();
    return profileForwardPass(this.core.backend, this.files.config, this.core.weights, { ...this.config, maxTopK: MAX_LOGPROBS });
  }

  private grammarService(): GrammarService {
    this.grammars ??= new GrammarService({
      vocab: grammarVocab(readFileSync(this.files.tokenizerJson, 'utf8'), this.files.config.vocabSize),
      stopTokenIds: this.files.generation.eosTokenIds,
      maxRows: this.config.maxNumSeqs,
      compileTimeoutMs: this.config.grammarCompileTimeoutMs,
      maskTimeoutMs: this.config.grammarMaskTimeoutMs,
      threads: this.config.grammarThreads,
    });
    return this.grammars;
  }

  /** Frees the model and the cache; the engine cannot be used afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.grammars?.close();
    this.core.close();
  }

  // Text and stop strings for one sampled token; a stop string ends the sequence in the core too.
  private applyToken(state: RequestState, u: SeqUpdate): void {
    this.generationTokensTotal++;
    state.timings.firstTokenMs ??= Date.now();
    const finish = state.texts[u.seq.index].append(u.result.token, u.finished);
    if (finish && !u.finished) this.core.finishSeq(u.seq, finish);
  }

  private notePlan(plan: SchedulerOutput, promptScores: PromptTokenScore[]): void {
    const now = Date.now();
    for (const s of plan.scheduled) {
      const state = this.requests.get(s.seq.group.requestId);
      if (state) state.timings.firstScheduledMs ??= now;
    }
    for (const ps of promptScores) {
      // A recompute after preemption scores the prompt again; the first score stays.
      const lp = this.requests.get(ps.group.requestId)?.promptLogprobs;
      if (lp) lp[ps.position] ??= ps.result;
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new EngineError('INVALID_REQUEST', 'the engine is closed');
  }
}

// What this engine can run at all, whatever the model: logprob counts and beam-search combinations.
function checkEngineLimits(sp: SamplingParams): void {
  if ((sp.logprobs ?? 0) > MAX_LOGPROBS) throw new InvalidSamplingParamsError('logprobs', `must be <= ${MAX_LOGPROBS}, got ${sp.logprobs}`);
  if ((sp.promptLogprobs ?? 0) > MAX_LOGPROBS) throw new InvalidSamplingParamsError('promptLogprobs', `must be <= ${MAX_LOGPROBS}, got ${sp.promptLogprobs}`);
  if (sp.useBeamSearch && sp.stop.length > 0) throw new InvalidSamplingParamsError('stop', 'stop strings are not supported with beam search (stopTokenIds are)');
  if (sp.useBeamSearch && 2 * sp.beamWidth > MAX_LOGPROBS) throw new InvalidSamplingParamsError('bestOf', `beam width must be <= ${MAX_LOGPROBS / 2}, got ${sp.beamWidth}`);
}
