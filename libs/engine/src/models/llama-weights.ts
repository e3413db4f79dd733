import type { Backend, HostArray, Tensor } from '@sluice/cuda-kernels';
import type { ModelFiles } from '../model/model-files';

export interface LayerWeights {
  inputNorm: Tensor;
  q: Tensor;
  k: Tensor;
  v: Tensor;
  qBias?: Tensor;
  kBias?: Tensor;
  vBias?: Tensor;
  o: Tensor;
  postNorm: Tensor;
  /** gate_proj rows then up_proj rows, so one GEMM yields what siluAndMul reads. */
  gateUp: Tensor;
  down: Tensor;
}

export interface LlamaWeights {
  embed: Tensor;
  layers: LayerWeights[];
  norm: Tensor;
  /** The embedding table itself when the checkpoint ties them. */
  lmHead: Tensor;
}

// Rows of a then rows of b, in a's dtype; built on the host once at load.
function concatRows(backend: Backend, a: Tensor, b: Tensor): Tensor {
  const ha = backend.toHost(a);
  const hb = backend.toHost(b);
  const out = new (ha.constructor as new (n: number) => HostArray)(ha.length + hb.length);
  (out as Float32Array).set(ha as Float32Array);
  (out as Float32Array).set(hb as Float32Array, ha.length);
  return backend.fromHost(out, [a.shape[0] + b.shape[0], ...a.shape.slice(1)], a.dtype);
}

/** Maps every shard (validated by resolveModelFiles) and arranges the tensors per layer. */
export function loadLlamaWeights(backend: Backend, files: ModelFiles): LlamaWeights {
  const all = new Map<string, Tensor>();
  for (const file of files.weightFiles) for (const [name, t] of backend.loadSafetensors(file)) all.set(name, t);
  const get = (name: string): Tensor => all.get(name)!;
  const c = files.config;
  const layers: LayerWeights[] = [];
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}`;
    const gate = get(`${p}.mlp.gate_proj.weight`);
    const up = get(`${p}.mlp.up_proj.weight`);
    layers.push({
      inputNorm: get(`${p}.input_layernorm.weight`),
      q: get(`${p}.self_attn.q_proj.weight`),
      k: get(`${p}.self_attn.k_proj.weight`),
      v: get(`${p}.self_attn.v_proj.weight`),
      qBias: c.qkvBias ? get(`${p}.self_attn.q_proj.bias`) : undefined,
      kBias: c.qkvBias ? get(`${p}.self_attn.k_proj.bias`) : undefined,
      vBias: c.qkvBias ? get(`${p}.self_attn.v_proj.bias`) : undefined,
      o: get(`${p}.self_attn.o_proj.weight`),
      postNorm: get(`${p}.post_attention_layernorm.weight`),
      gateUp: concatRows(backend, gate, up),
      down: get(`${p}.mlp.down_proj.weight`),
    });
    gate.free();
    up.free();
  }
  const embed = get('model.embed_tokens.weight');
  const lmHead = c.tieWordEmbeddings ? embed : get('lm_head.weight');
  // Tensors the model does not read (e.g. rotary caches some exporters add) are released at once.
  const used = new Set<Tensor>([embed, lmHead, get('model.norm.weight'), ...layers.flatMap((w) => Object.values(w).filter(Boolean) as Tensor[])]);
  for (const t of all.values()) if (!used.has(t) && !t.freed) t.free();
  return { embed, layers, norm: get('model.norm.weight'), lmHead };
}

/** Releases every weight tensor (the tied head once). */
export function freeLlamaWeights(w: LlamaWeights): void {
  const all = new Set<Tensor>([w.embed, w.norm, w.lmHead, ...w.layers.flatMap((l) => Object.values(l).filter(Boolean) as Tensor[])]);
  for (const t of all) if (!t.freed) t.free();
}
