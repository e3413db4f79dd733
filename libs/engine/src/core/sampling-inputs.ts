import type { Backend, SamplingTensors, Tensor } from '@sluice/cuda-kernels';
import type { SamplingParams } from '../sampling-params';

/** What staging needs of a sampled row: its controls, RNG key and (with penalties) its token lists. */
export interface StagedRow {
  params: SamplingParams;
  seed: bigint;
  step: number;
  promptTokens: readonly number[];
  outputTokens: readonly number[];
}

export function hasPenalties(p: SamplingParams): boolean {
  return p.repetitionPenalty !== 1 || p.presencePenalty !== 0 || p.frequencyPenalty !== 0;
}

type Region = { at: number; n: number };

/**
 * A step's sampling inputs (the rows' controls, RNG keys, penalty token lists and structured-output bitmasks)
 * laid out in one host buffer and sent to the device in one upload, then read there through views. Host work
 * and bytes are proportional to the batch (and the masks and penalty lists when there are any).
 */
export class SamplingInputs {
  private words = 0;
  private i32 = new Int32Array(0);
  private f32 = new Float32Array(0);
  private i64 = new BigInt64Array(0);
  private dev: Tensor | undefined;

  constructor(private readonly backend: Backend) {}

  /** Stages the rows (and, given, their masks [rows * words]) and uploads them; views over the device copy. */
  stage(rows: readonly StagedRow[], masks?: Int32Array): { params: SamplingTensors; mask?: Tensor } {
    const B = rows.length;
    const prompt = rows.map((r) => (hasPenalties(r.params) ? r.promptTokens : []));
    const output = rows.map((r) => (hasPenalties(r.params) ? r.outputTokens : []));
    let end = 0;
    // i64 regions start at even words: 8-byte aligned in the device buffer.
    const take = (n: number, align = 1): Region => {
      const at = Math.ceil(end / align) * align;
      end = at + n;
      return { at, n };
    };
    const R = {
      temperature: take(B), topK: take(B), topP: take(B), minP: take(B), repetitionPenalty: take(B),
      presencePenalty: take(B), frequencyPenalty: take(B), promptOffsets: take(B + 1), outputOffsets: take(B + 1),
      seeds: take(2 * B, 2), steps: take(2 * B, 2),
      promptTokens: take(prompt.reduce((n, l) => n + l.length, 0)), outputTokens: take(output.reduce((n, l) => n + l.length, 0)),
      mask: take(masks?.length ?? 0),
    };
    this.reserve(end);
    rows.forEach((r, i) => {
      const p = r.params;
      this.f32[R.temperature.at + i] = p.temperature;
      this.i32[R.topK.at + i] = p.topK;
      this.f32[R.topP.at + i] = p.topP;
      this.f32[R.minP.at + i] = p.minP;
      this.f32[R.repetitionPenalty.at + i] = p.repetitionPenalty;
      this.f32[R.presencePenalty.at + i] = p.presencePenalty;
      this.f32[R.frequencyPenalty.at + i] = p.frequencyPenalty;
      this.i64[R.seeds.at / 2 + i] = r.seed;
      this.i64[R.steps.at / 2 + i] = BigInt(r.step);
    });
    this.pack(prompt, R.promptTokens, R.promptOffsets);
    this.pack(output, R.outputTokens, R.outputOffsets);
    if (masks) this.i32.set(masks, R.mask.at);
    const b = this.backend;
    const dev = this.dev!;
    if (end > 0) b.copyFromHost(b.narrow(dev, 0, end), this.i32.subarray(0, end));
    const i32 = (r: Region) => b.narrow(dev, r.at, r.at + r.n);
    const f32 = (r: Region) => b.view(i32(r), [r.n], 'f32');
    const i64 = (r: Region) => b.view(i32(r), [r.n / 2], 'i64');
    const params: SamplingTensors = {
      temperature: f32(R.temperature), topK: i32(R.topK), topP: f32(R.topP), minP: f32(R.minP),
      repetitionPenalty: f32(R.repetitionPenalty), presencePenalty: f32(R.presencePenalty), frequencyPenalty: f32(R.frequencyPenalty),
      promptTokens: i32(R.promptTokens), promptOffsets: i32(R.promptOffsets), outputTokens: i32(R.outputTokens), outputOffsets: i32(R.outputOffsets),
      seeds: i64(R.seeds), steps: i64(R.steps),
    };
    return { params, mask: masks ? b.view(i32(R.mask), [B, masks.length / Math.max(1, B)]) : undefined };
  }

  free(): void {
    if (this.dev && !this.dev.freed) this.dev.free();
  }

  // Per-row token lists into tokens, their bounds into offsets.
  private pack(lists: ReadonlyArray<readonly number[]>, tokens: Region, offsets: Region): void {
    let at = tokens.at;
    this.i32[offsets.at] = 0;
    lists.forEach((l, i) => {
      for (const t of l) this.i32[at++] = t;
      this.i32[offsets.at + i + 1] = at - tokens.at;
    });
  }

  // Grows the host buffer and its device twin to at least n words (doubling, so growth is rare).
  private reserve(n: number): void {
    if (n <= this.words && this.dev) return;
    this.words = Math.max(n, 2 * this.words, 1024);
    const buf = new ArrayBuffer(4 * this.words);
    [this.i32, this.f32, this.i64] = [new Int32Array(buf), new Float32Array(buf), new BigInt64Array(buf)];
    this.free();
    this.dev = this.backend.empty([this.words], 'i32');
  }
}
