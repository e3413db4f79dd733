import { basename } from 'node:path';
import { cudaAvailable, getBackend, type Backend } from '@sluice/cuda-kernels';
import { EngineConfig, EngineOptions, resolveEngineConfig, validateEngineOptions, type StepShape } from './config';
import { BeamRequests } from './beam-requests';
import { EngineError, InvalidEngineOptionsError, InvalidSamplingParamsError } from './errors';
import { resolveModelFiles, type ModelFiles } from './model/model-files';
import { createModelRunner, measureDeviceMemory, profileForwardPass, type ForwardProfile, type ModelRunner, type StepResult } from './model-runner';
import { KvCache } from './models/kv-cache';
import { freeLlamaWeights, loadLlamaWeights, type LlamaWeights } from './models/llama-weights';
import type { CompletionOutput, RequestOutput, RequestTimings, TokenLogprob } from './outputs';
import { normalizePrompt, type PromptInput } from './prompt-input';
import { SamplingParams, type SamplingParamsInit } from './sampling-params';
import { Scheduler, type SchedulerStats } from './scheduler';
import { SequenceGroup } from './sequence';
import { SequenceOutput } from './sequence-output';
import { SyncEncoder } from './sync-encoder';
import { ChatTemplate, specialTokensOf } from './tokenizer/chat-template';
import { TextTokenizer } from './tokenizer/text-tokenizer';
import { TokenizerError } from './tokenizer/tokenizer-error';

/** Top logprobs a request may ask for per token (vLLM's default max_logprobs). */
export const MAX_LOGPROBS = 20;

export interface EngineStats extends SchedulerStats {
  /** Requests added and not yet finished or aborted. */
  numRequests: number;
  promptTokensTotal: number;
  generationTokensTotal: number;
  stepCount: number;
}

interface RequestState {
  group: SequenceGroup;
  prompt?: string;
  outs: SequenceOutput[];
  seeds: bigint[];
  promptLogprobs?: Array<TokenLogprob | null>;
  timings: RequestTimings;
}

// Distinct, reproducible seeds for the sequences of a seeded request; random ones otherwise.
function sequenceSeeds(params: SamplingParams): bigint[] {
  return Array.from({ length: params.bestOf }, (_, i) =>
    params.seed === undefined
      ? BigInt(Math.floor(Math.random() * Number.MAX_SAFE_INTEGER))
      : BigInt.asIntN(64, BigInt(params.seed) * 0x9e3779b97f4a7c15n + BigInt(i)),
  );
}

/**
 * The synchronous engine: requests in, one scheduling + forward + sampling + detokenizing step per step()
 * call, RequestOutputs out. Continuous batching over a paged KV cache, as vLLM's LLMEngine.
 */
export class LLMEngine {
  readonly modelName: string;
  private readonly requests = new Map<string, RequestState>();
  private readonly byGroup = new Map<SequenceGroup, RequestState>();
  private readonly beams: BeamRequests;
  private promptTokensTotal = 0;
  private generationTokensTotal = 0;
  private stepCount = 0;
  private closed = false;

  private constructor(
    readonly config: EngineConfig,
    readonly files: ModelFiles,
    readonly tokenizer: TextTokenizer,
    private readonly chatTemplate: ChatTemplate | undefined,
    private readonly encoder: SyncEncoder,
    readonly scheduler: Scheduler,
    private readonly weights: LlamaWeights,
    private readonly kv: KvCache,
    private readonly runner: ModelRunner,
    private readonly backend: Backend,
  ) {
    this.modelName = basename(files.dir);
    this.beams = new BeamRequests({
      enqueue: (id, promptTokenIds, params, priority) => this.enqueue(id, undefined, promptTokenIds, params, priority),
      abort: (id) => this.abortState(this.requests.get(id)!),
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
    if (options.device === 'cuda' && !cudaAvailable()) {
      throw new InvalidEngineOptionsError('device', "'cuda' was asked for, but this build has no CUDA backend or no GPU is visible");
    }
    const backend: Backend = getBackend(options.device ?? 'cpu');
    const weights = loadLlamaWeights(backend, files);
    const built: Array<{ free(): void }> = [];
    try {
      // On CUDA without a given size, the cache gets what the weights and a profiled largest step leave.
      const measure = (shape: StepShape) => measureDeviceMemory(backend, files.config, weights, { ...shape, maxTopK: MAX_LOGPROBS });
      const config = resolveEngineConfig(options, files.config, weights.embed.dtype, measure);
      const c = files.config;
      const scheduler = new Scheduler({
        blockSize: config.blockSize, numBlocks: config.numBlocks, numHostBlocks: config.numHostBlocks,
        maxNumSeqs: config.maxNumSeqs, maxNumBatchedTokens: config.maxNumBatchedTokens, maxModelLen: config.maxModelLen,
        enablePrefixCaching: config.enablePrefixCaching, preemptionMode: config.preemptionMode,
      });
      const kv = new KvCache(backend, {
        numLayers: c.numLayers, numBlocks: config.numBlocks, numHostBlocks: config.numHostBlocks, blockSize: config.blockSize,
        numKvHeads: c.numKvHeads, headDim: c.headDim, dtype: weights.embed.dtype,
      });
      built.push(kv);
      const runner = createModelRunner(backend, c, weights, kv, { ...config, maxTopK: MAX_LOGPROBS });
      built.push(runner);
      const encoder = new SyncEncoder(files.tokenizerJson);
      return new LLMEngine(config, files, tokenizer, chatTemplate, encoder, scheduler, weights, kv, runner, backend);
    } catch (e) {
      // Options that only fail against this model (or an allocation failure) must not leak the weights.
      for (const b of built) b.free();
      freeLlamaWeights(weights);
      throw e;
    }
  }

  /** Token ids of a prompt as this engine would run it (chat rendered by the template, bos added to plain text). */
  encodePrompt(requestId: string, input: PromptInput): { prompt?: string; promptTokenIds: number[] } {
    const p = normalizePrompt(requestId, input);
    if (p.kind === 'tokens') {
      const bad = p.ids.find((t) => t >= this.files.config.vocabSize);
      if (bad !== undefined) throw new EngineError('INVALID_REQUEST', `request ${requestId}: token id ${bad} is outside the vocabulary (${this.files.config.vocabSize})`);
      return { promptTokenIds: p.ids };
    }
    if (p.kind === 'text') return { prompt: p.text, promptTokenIds: this.encoder.encode(p.text, true) };
    if (!this.chatTemplate) throw new TokenizerError('CHAT_TEMPLATE_MISSING', `${this.files.dir} has no chat template`);
    const text = this.chatTemplate.render(p.messages);
    // The template writes the special tokens itself (bos included).
    return { prompt: text, promptTokenIds: this.encoder.encode(text, false) };
  }

  /** Queues a request; throws (leaving the engine unchanged) when it is invalid or could never run. */
  addRequest(requestId: string, input: PromptInput, params: SamplingParams | SamplingParamsInit = {}, options: { priority?: number } = {}): void {
    this.assertOpen();
    if (typeof requestId !== 'string' || requestId.length === 0) throw new EngineError('INVALID_REQUEST', `request id must be a non-empty string, got ${JSON.stringify(requestId)}`);
    if (this.requests.has(requestId) || this.beams.has(requestId)) throw new EngineError('DUPLICATE_REQUEST', `request ${requestId} is already running`);
    const sp = params instanceof SamplingParams ? params : new SamplingParams(params);
    if ((sp.logprobs ?? 0) > MAX_LOGPROBS) throw new InvalidSamplingParamsError('logprobs', `must be <= ${MAX_LOGPROBS}, got ${sp.logprobs}`);
    if ((sp.promptLogprobs ?? 0) > MAX_LOGPROBS) throw new InvalidSamplingParamsError('promptLogprobs', `must be <= ${MAX_LOGPROBS}, got ${sp.promptLogprobs}`);
    const priority = options.priority ?? 0;
    if (!Number.isFinite(priority)) throw new EngineError('INVALID_REQUEST', `request ${requestId}: priority must be a finite number, got ${priority}`);
    if (sp.useBeamSearch && sp.stop.length > 0) throw new InvalidSamplingParamsError('stop', 'stop strings are not supported with beam search (stopTokenIds are)');
    if (sp.useBeamSearch && 2 * sp.beamWidth > MAX_LOGPROBS) throw new InvalidSamplingParamsError('bestOf', `beam width must be <= ${MAX_LOGPROBS / 2}, got ${sp.beamWidth}`);
    const { prompt, promptTokenIds } = this.encodePrompt(requestId, input);
    if (sp.useBeamSearch) {
      // Each internal request holds prompt + one beam: reject now what the scheduler would reject mid-search.
      this.scheduler.checkFits(requestId, promptTokenIds.length, sp.maxTokens, 1);
      this.beams.add(requestId, prompt, promptTokenIds, sp, priority);
    } else {
      this.enqueue(requestId, prompt, promptTokenIds, sp, priority);
    }
    this.promptTokensTotal += promptTokenIds.length;
  }

  /** One iteration: schedule, run the model, sample, detokenize, check stops. */
  step(): RequestOutput[] {
    this.assertOpen();
    const out = this.scheduler.schedule();
    this.stepCount++;
    const scheduledAt = Date.now();
    for (const s of out.scheduled) this.byGroup.get(s.group)!.timings.firstScheduledMs ??= scheduledAt;
    const result = this.runner.execute(out, (seq, group) => this.byGroup.get(group)!.seeds[group.seqs.indexOf(seq)]);
    for (const s of out.scheduled) this.scheduler.markComputed(s.seq, s.numTokens);
    const outputs: RequestOutput[] = [];
    for (const o of this.applyResults(result)) {
      if (!this.beams.isInternal(o.requestId)) outputs.push(o);
      else if (o.finished) {
        const final = this.beams.onInternalFinished(o);
        if (final) outputs.push(final);
      }
    }
    return outputs;
  }

  /** Stops a request now and frees its blocks; its final output, or undefined when the id is unknown. */
  abortRequest(requestId: string): RequestOutput | undefined {
    if (this.beams.has(requestId)) return this.beams.abort(requestId);
    const state = this.requests.get(requestId);
    return state && !this.beams.isInternal(requestId) ? this.abortState(state) : undefined;
  }

  hasUnfinishedRequests(): boolean {
    return this.requests.size > 0;
  }

  stats(): EngineStats {
    return {
      ...this.scheduler.stats(),
      numRequests: this.requests.size - this.beams.numInternal + this.beams.size,
      promptTokensTotal: this.promptTokensTotal,
      generationTokensTotal: this.generationTokensTotal,
      stepCount: this.stepCount,
    };
  }

  /**
   * Runs one step of the largest batch this engine's limits allow on buffers and a cache of its own (what
   * create does on CUDA to size the KV cache) and reports the memory it took; the engine's state is untouched.
   */
  profileForwardPass(): ForwardProfile {
    this.assertOpen();
    return profileForwardPass(this.backend, this.files.config, this.weights, { ...this.config, maxTopK: MAX_LOGPROBS });
  }

  /** Frees the model, the cache and the tokenizer thread; the engine cannot be used afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.runner.free();
    this.kv.free();
    freeLlamaWeights(this.weights);
    this.encoder.close();
  }

  private enqueue(requestId: string, prompt: string | undefined, promptTokenIds: number[], sp: SamplingParams, priority: number): void {
    const group = new SequenceGroup(requestId, promptTokenIds, sp, priority);
    this.scheduler.addSeqGroup(group);
    const state: RequestState = {
      group,
      prompt,
      outs: group.seqs.map(() => new SequenceOutput(this.tokenizer, promptTokenIds, sp, this.files.generation.eosTokenIds, this.config.maxModelLen)),
      seeds: sequenceSeeds(sp),
      promptLogprobs: sp.promptLogprobs === undefined ? undefined : new Array(promptTokenIds.length).fill(null),
      timings: { arrivalMs: Date.now() },
    };
    this.requests.set(requestId, state);
    this.byGroup.set(group, state);
  }

  private applyResults(result: StepResult): RequestOutput[] {
    for (const ps of result.promptScores) {
      const lp = this.byGroup.get(ps.group)!.promptLogprobs!;
      // A recompute after preemption scores the prompt again; the first score stays.
      lp[ps.position] ??= ps.result;
    }
    const progressed = new Set<RequestState>();
    const now = Date.now();
    for (const { seq, group, result: r } of result.sampled) {
      const state = this.byGroup.get(group)!;
      this.scheduler.appendToken(seq, r.token);
      this.generationTokensTotal++;
      state.timings.firstTokenMs ??= now;
      if (state.outs[group.seqs.indexOf(seq)].append(r)) this.scheduler.finishSeq(seq);
      progressed.add(state);
    }
    const outputs: RequestOutput[] = [];
    for (const state of progressed) {
      const finished = state.group.isFinished;
      if (finished) {
        state.timings.finishedMs = now;
        this.forget(state);
      }
      outputs.push(this.output(state, finished));
    }
    return outputs;
  }

  private abortState(state: RequestState): RequestOutput {
    this.scheduler.abortSeqGroup(state.group.requestId);
    for (const o of state.outs) if (!o.finish) o.abort();
    state.timings.finishedMs = Date.now();
    this.forget(state);
    return this.output(state, true);
  }

  private forget(state: RequestState): void {
    this.requests.delete(state.group.requestId);
    this.byGroup.delete(state.group);
  }

  // The n sequences a request reports: all of them while running; the n best by cumulative logprob at the end.
  private output(state: RequestState, finished: boolean): RequestOutput {
    const params = state.group.params;
    let chosen = state.outs.map((o, i) => ({ o, i }));
    if (params.bestOf > params.n) {
      if (finished) chosen.sort((a, b) => b.o.cumulativeLogprob - a.o.cumulativeLogprob || a.i - b.i);
      chosen = chosen.slice(0, params.n);
    }
    const outputs: CompletionOutput[] = chosen.map(({ o }, index) => {
      const c: CompletionOutput = {
        index,
        text: o.outputText,
        delta: o.takeDelta(),
        tokenIds: [...o.tokenIds],
        cumulativeLogprob: o.cumulativeLogprob,
        finishReason: o.finish?.reason ?? null,
      };
      if (params.logprobs !== undefined) c.logprobs = [...o.logprobs];
      if (o.finish?.stopReason !== undefined) c.stopReason = o.finish.stopReason;
      return c;
    });
    const out: RequestOutput = {
      requestId: state.group.requestId,
      promptTokenIds: [...state.group.promptTokenIds],
      outputs,
      finished,
      usage: {
        promptTokens: state.group.promptTokenIds.length,
        completionTokens: outputs.reduce((n, c) => n + c.tokenIds.length, 0),
        cachedPromptTokens: state.group.numCachedPromptTokens,
      },
      timings: { ...state.timings },
    };
    if (state.prompt !== undefined) out.prompt = state.prompt;
    if (state.promptLogprobs) out.promptLogprobs = [...state.promptLogprobs];
    return out;
  }

  private assertOpen(): void {
    if (this.closed) throw new EngineError('INVALID_REQUEST', 'the engine is closed');
  }
}
