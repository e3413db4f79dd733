import type { Backend, DType, HostArray, Tensor } from '@sluice/cuda-kernels';
import type { ModelFiles } from '../model/model-files';
import { toWeightDType } from './weight-dtype';

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

/**
 * Maps every shard (validated by resolveModelFiles) and arranges the tensors per layer. On CPU `dtype` (f32 or bf16,
 * from resolveWeightDType) is the GEMM weights' dtype; the embedding table, norms and biases are f32 there (a tied bf16
 * head keeps the table's bf16 storage beside the f32 lookup table). On CUDA every tensor stays as stored.
 */
export function loadLlamaWeights(backend: Backend, files: ModelFiles, dtype: DType = 'f32'): LlamaWeights {
  const cpu = backend.device === 'cpu';
  const bf16 = cpu && dtype === 'bf16';
  const all = new Map<string, Tensor>();
  for (const file of files.weightFiles) {
    for (const [name, t] of backend.loadSafetensors(file, { asStored: bf16 && files.config.dtype === 'bf16' })) all.set(name, t);
  }
  const get = (name: string): Tensor => (cpu ? toWeightDType(backend, all.get(name)!, 'f32') : all.get(name)!);
  const matrix = (name: string): Tensor => (cpu ? toWeightDType(backend, all.get(name)!, bf16 ? 'bf16' : 'f32') : all.get(name)!);
  const c = files.config;
  const layers: LayerWeights[] = [];
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}`;
    const proj = (kind: 'weight' | 'bias') => ['q', 'k', 'v'].map((x) => (kind === 'weight' ? matrix : get)(`${p}.self_attn.${x}_proj.${kind}`));
    layers.push({
      inputNorm: get(`${p}.input_layernorm.weight`),
      qkv: concatRows(backend, proj('weight')),
      qkvBias: c.qkvBias ? concatRows(backend, proj('bias')) : undefined,
      o: matrix(`${p}.self_attn.o_proj.weight`),
      postNorm: get(`${p}.post_attention_layernorm.weight`),
      gateUp: concatRows(backend, [matrix(`${p}.mlp.gate_proj.weight`), matrix(`${p}.mlp.up_proj.weight`)]),
      down: matrix(`${p}.mlp.down_proj.weight`),
    });
  }
  // A tied bf16 head is the table's bf16 storage (or a bf16 copy of an f32 table), taken before the table widens.
  const table = all.get('model.embed_tokens.weight')!;
  const bf16Head = bf16 && c.tieWordEmbeddings ? toWeightDType(backend, backend.view(table, table.shape), 'bf16') : undefined;
  const embed = get('model.embed_tokens.weight');
  const lmHead = bf16Head ?? (c.tieWordEmbeddings ? embed : matrix('lm_head.weight'));
  const norm = get('model.norm.weight');
  // Tensors the model does not read (e.g. rotary caches some exporters add) are released at once.
  const used = new Set<Tensor>([embed, lmHead, norm, ...layers.flatMap((w) => Object.values(w).filter(Boolean) as Tensor[])]);
  for (const t of all.values()) if (!used.has(t) && !t.freed) t.free();
  // The parts freed above sit in the pool's exact-size cache, which no later request reuses: hand them back, so
  // the device-memory KV budget (measured next) does not count them as used.
  backend.emptyCache();
  return { embed, layers, norm, lmHead };
}

/** Releases every weight tensor (the tied head once). */
export function freeLlamaWeights(w: LlamaWeights): void {
  const all = new Set<Tensor>([w.embed, w.norm, w.lmHead, ...w.layers.flatMap((l) => Object.values(l).filter(Boolean) as Tensor[])]);
  for (const t of all) if (!t.freed) t.free();
}
