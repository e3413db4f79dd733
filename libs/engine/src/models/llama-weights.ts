import type { Backend, HostArray, Tensor } from '@sluice/cuda-kernels';
import type { ModelFiles } from '../model/model-files';

export interface LayerWeights {
  inputNorm: Tensor;
  /** q_proj rows, then k_proj, then v_proj: one GEMM yields what splitQkvRotaryCache reads. */
  qkv: Tensor;
  qkvBias?: Tensor;
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

// The rows of each part in turn, in the first part's dtype; built on the host once at load, the parts freed.
function concatRows(backend: Backend, parts: Tensor[]): Tensor {
  const host = parts.map((t) => backend.toHost(t));
  const out = new (host[0].constructor as new (n: number) => HostArray)(host.reduce((n, h) => n + h.length, 0));
  let at = 0;
  for (const h of host) {
    (out as Float32Array).set(h as Float32Array, at);
    at += h.length;
  }
  const rows = parts.reduce((n, t) => n + t.shape[0], 0);
  const joined = backend.fromHost(out, [rows, ...parts[0].shape.slice(1)], parts[0].dtype);
  for (const t of parts) t.free();
  return joined;
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
    const proj = (kind: 'weight' | 'bias') => ['q', 'k', 'v'].map((x) => get(`${p}.self_attn.${x}_proj.${kind}`));
    layers.push({
      inputNorm: get(`${p}.input_layernorm.weight`),
      qkv: concatRows(backend, proj('weight')),
      qkvBias: c.qkvBias ? concatRows(backend, proj('bias')) : undefined,
      o: get(`${p}.self_attn.o_proj.weight`),
      postNorm: get(`${p}.post_attention_layernorm.weight`),
      gateUp: concatRows(backend, [get(`${p}.mlp.gate_proj.weight`), get(`${p}.mlp.up_proj.weight`)]),
      down: get(`${p}.mlp.down_proj.weight`),
    });
  }
  const embed = get('model.embed_tokens.weight');
  const lmHead = c.tieWordEmbeddings ? embed : get('lm_head.weight');
  // Tensors the model does not read (e.g. rotary caches some exporters add) are released at once.
  const used = new Set<Tensor>([embed, lmHead, get('model.norm.weight'), ...layers.flatMap((w) => Object.values(w).filter(Boolean) as Tensor[])]);
  for (const t of all.values()) if (!used.has(t) && !t.freed) t.free();
  // The parts freed above sit in the pool's exact-size cache, which no later request reuses: hand them back, so
  // the device-memory KV budget (measured next) does not count them as used.
  backend.emptyCache();
  return { embed, layers, norm: get('model.norm.weight'), lmHead };
}

/** Releases every weight tensor (the tied head once). */
export function freeLlamaWeights(w: LlamaWeights): void {
  const all = new Set<Tensor>([w.embed, w.norm, w.lmHead, ...w.layers.flatMap((l) => Object.values(l).filter(Boolean) as Tensor[])]);
  for (const t of all) if (!t.freed) t.free();
}
