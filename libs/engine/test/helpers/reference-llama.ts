// An independent float64 forward pass of the Llama family for tests: it reads the safetensors files and
// config.json itself and recomputes every position with plain loops — no paging, no cache, no backend.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

type Weights = Map<string, Float64Array>;

function readSafetensors(file: string, into: Weights): void {
  const buf = readFileSync(file);
  const headerLen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const base = 8 + headerLen;
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [s, e] = info.data_offsets;
    const bytes = buf.subarray(base + s, base + e);
    let out: Float64Array;
    if (info.dtype === 'F32') {
      out = Float64Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(4 * i));
    } else if (info.dtype === 'BF16') {
      // bf16 is the high half of an f32.
      const tmp = Buffer.alloc(4);
      out = Float64Array.from({ length: bytes.length / 2 }, (_, i) => {
        tmp.writeUInt32LE(bytes.readUInt16LE(2 * i) << 16 >>> 0);
        return tmp.readFloatLE(0);
      });
    } else {
      throw new Error(`reference: dtype ${info.dtype} of ${name} not handled`);
    }
    into.set(name, out);
  }
}

/** The config.json fields the reference reads. */
interface ReferenceConfig {
  architectures: string[];
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads?: number;
  head_dim?: number;
  attention_bias?: boolean;
  tie_word_embeddings?: boolean;
  rms_norm_eps?: number;
  rope_theta?: number;
  rope_parameters?: { rope_theta?: number };
}

export class ReferenceLlama {
  readonly vocab: number;
  private readonly w: Weights = new Map();
  private readonly cfg: ReferenceConfig;

  constructor(dir: string) {
    this.cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as ReferenceConfig;
    let files = ['model.safetensors'];
    try {
      const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
      files = [...new Set(Object.values(index.weight_map as Record<string, string>))];
    } catch {
      // single-file checkpoint
    }
    for (const f of files) readSafetensors(join(dir, f), this.w);
    this.vocab = this.cfg.vocab_size;
  }

  private get(name: string): Float64Array {
    const t = this.w.get(name);
    if (!t) throw new Error(`reference: missing ${name}`);
    return t;
  }

  // y[T, N] = x[T, K] · W[N, K]ᵀ (+ b)
  private linear(x: Float64Array, T: number, K: number, W: Float64Array, N: number, bias?: Float64Array): Float64Array {
    const y = new Float64Array(T * N);
    for (let t = 0; t < T; t++) {
      for (let n = 0; n < N; n++) {
        let s = bias ? bias[n] : 0;
        for (let k = 0; k < K; k++) s += x[t * K + k] * W[n * K + k];
        y[t * N + n] = s;
      }
    }
    return y;
  }

  private rmsNorm(x: Float64Array, T: number, H: number, w: Float64Array): Float64Array {
    const eps = this.cfg.rms_norm_eps ?? 1e-6;
    const y = new Float64Array(T * H);
    for (let t = 0; t < T; t++) {
      let ss = 0;
      for (let h = 0; h < H; h++) ss += x[t * H + h] ** 2;
      const r = 1 / Math.sqrt(ss / H + eps);
      for (let h = 0; h < H; h++) y[t * H + h] = x[t * H + h] * r * w[h];
    }
    return y;
  }

  // Rotate-half rotary embedding at position t for every head of x[T, heads*D].
  private rope(x: Float64Array, T: number, heads: number, D: number): void {
    const theta = this.cfg.rope_parameters?.rope_theta ?? this.cfg.rope_theta ?? 10000;
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < heads; h++) {
        const o = (t * heads + h) * D;
        for (let i = 0; i < D / 2; i++) {
          const a = t / Math.pow(theta, (2 * i) / D);
          const [c, s] = [Math.cos(a), Math.sin(a)];
          const x1 = x[o + i];
          const x2 = x[o + D / 2 + i];
          x[o + i] = x1 * c - x2 * s;
          x[o + D / 2 + i] = x2 * c + x1 * s;
        }
      }
    }
  }

  /** Logits [V] of positions from..T-1 of `tokens`. */
  logits(tokens: readonly number[], from = 0): Float64Array[] {
    const c = this.cfg;
    const T = tokens.length;
    const H = c.hidden_size;
    const nH = c.num_attention_heads;
    const nKv = c.num_key_value_heads ?? nH;
    const D = c.head_dim ?? H / nH;
    const F = c.intermediate_size;
    const qkvBias = c.architectures[0] === 'Qwen2ForCausalLM' || c.attention_bias === true;
    const emb = this.get('model.embed_tokens.weight');
    let x = new Float64Array(T * H);
    tokens.forEach((id, t) => x.set(emb.subarray(id * H, (id + 1) * H), t * H));
    for (let l = 0; l < c.num_hidden_layers; l++) {
      const p = `model.layers.${l}`;
      const bias = (n: string) => (qkvBias ? this.get(`${p}.self_attn.${n}.bias`) : undefined);
      const h = this.rmsNorm(x, T, H, this.get(`${p}.input_layernorm.weight`));
      const q = this.linear(h, T, H, this.get(`${p}.self_attn.q_proj.weight`), nH * D, bias('q_proj'));
      const k = this.linear(h, T, H, this.get(`${p}.self_attn.k_proj.weight`), nKv * D, bias('k_proj'));
      const v = this.linear(h, T, H, this.get(`${p}.self_attn.v_proj.weight`), nKv * D, bias('v_proj'));
      this.rope(q, T, nH, D);
      this.rope(k, T, nKv, D);
      const attn = new Float64Array(T * nH * D);
      for (let t = 0; t < T; t++) {
        for (let hh = 0; hh < nH; hh++) {
          const kvh = Math.floor(hh / (nH / nKv));
          const scores = new Float64Array(t + 1);
          let m = -Infinity;
          for (let s = 0; s <= t; s++) {
            let dot = 0;
            for (let d = 0; d < D; d++) dot += q[(t * nH + hh) * D + d] * k[(s * nKv + kvh) * D + d];
            scores[s] = dot / Math.sqrt(D);
            m = Math.max(m, scores[s]);
          }
          let z = 0;
          for (let s = 0; s <= t; s++) z += (scores[s] = Math.exp(scores[s] - m));
          for (let s = 0; s <= t; s++) {
            for (let d = 0; d < D; d++) attn[(t * nH + hh) * D + d] += (scores[s] / z) * v[(s * nKv + kvh) * D + d];
          }
        }
      }
      const o = this.linear(attn, T, nH * D, this.get(`${p}.self_attn.o_proj.weight`), H);
      x = x.map((xi, i) => xi + o[i]);
      const h2 = this.rmsNorm(x, T, H, this.get(`${p}.post_attention_layernorm.weight`));
      const gate = this.linear(h2, T, H, this.get(`${p}.mlp.gate_proj.weight`), F);
      const up = this.linear(h2, T, H, this.get(`${p}.mlp.up_proj.weight`), F);
      const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]);
      const down = this.linear(act, T, F, this.get(`${p}.mlp.down_proj.weight`), H);
      x = x.map((xi, i) => xi + down[i]);
    }
    const normed = this.rmsNorm(x.subarray(from * H), T - from, H, this.get('model.norm.weight'));
    const head = c.tie_word_embeddings ? emb : this.get('lm_head.weight');
    const logits = this.linear(normed, T - from, H, head, this.vocab);
    return Array.from({ length: T - from }, (_, t) => logits.subarray(t * this.vocab, (t + 1) * this.vocab));
  }
}

export function logSoftmax(x: ArrayLike<number>): Float64Array {
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) m = Math.max(m, x[i]);
  let z = 0;
  for (let i = 0; i < x.length; i++) z += Math.exp(x[i] - m);
  const lz = m + Math.log(z);
  return Float64Array.from(x, (v) => v - lz);
}

export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/**
 * Reference log-probabilities for a prompt and a continuation in one causal pass: entry p is the
 * distribution of token p + 1 given tokens 0..p. A greedy continuation matches the reference token for
 * token exactly when each generated token is the argmax of the entry before it (the model is causal).
 */
export function referenceLogprobs(ref: ReferenceLlama, tokens: readonly number[]): Float64Array[] {
  return ref.logits(tokens).map(logSoftmax);
}
