import { getBackend } from '@sluice/cuda-kernels';
import { resolveModelFiles } from '../src/model/model-files';
import { freeLlamaWeights, loadLlamaWeights } from '../src/models/llama-weights';
import { tinyModel } from './helpers/tiny-models';

describe('loadLlamaWeights', () => {
  // On CPU a bf16 checkpoint is widened into pooled buffers, so the q/k/v and gate/up parts freed after
  // concatenation land in the pool as on CUDA; they must go back rather than stay cached (and count as used).
  it('returns the buffers freed while loading to the device instead of keeping them cached', () => {
    const backend = getBackend('cpu');
    const weights = loadLlamaWeights(backend, resolveModelFiles(tinyModel('tiny-mistral-bf16')));
    try {
      expect(weights.layers[0].gateUp.dtype).toBe('f32');
      expect(backend.memoryStats().cachedBytes).toBe(0);
    } finally {
      freeLlamaWeights(weights);
    }
  });
});
