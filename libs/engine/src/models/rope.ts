import type { RopeConfig } from '../model/config';

/** Per-pair inverse frequencies of the rotary embedding, with the checkpoint's context-extension scaling applied. */
export function ropeInvFreq(rope: RopeConfig, headDim: number): Float64Array {
  const half = headDim / 2;
  const inv = Float64Array.from({ length: half }, (_, i) => 1 / Math.pow(rope.theta, (2 * i) / headDim));
  const s = rope.scaling;
  if (s.type === 'linear') return inv.map((f) => f / s.factor);
  if (s.type !== 'llama3') return inv;
  // Llama 3: long wavelengths are slowed by `factor`, short ones kept, the band between interpolated.
  const lowWavelen = s.originalMaxPositions / s.lowFreqFactor;
  const highWavelen = s.originalMaxPositions / s.highFreqFactor;
  return inv.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highWavelen) return f;
    if (wavelen > lowWavelen) return f / s.factor;
    const smooth = (s.originalMaxPositions / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
    return (1 - smooth) * (f / s.factor) + smooth * f;
  });
}

/** The backend's cos/sin table [maxPositions, headDim]: cos of each pair's angle in the first half, sin in the second. */
export function ropeCosSin(rope: RopeConfig, headDim: number, maxPositions: number): Float32Array {
  const inv = ropeInvFreq(rope, headDim);
  const half = headDim / 2;
  const out = new Float32Array(maxPositions * headDim);
  for (let p = 0; p < maxPositions; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p * inv[i];
      out[p * headDim + i] = Math.cos(angle);
      out[p * headDim + half + i] = Math.sin(angle);
    }
  }
  return out;
}
