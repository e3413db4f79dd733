import { backendFor, devices, expectKernelError, F32_TOL, relErr, Rng } from './helpers';
import type { SamplingTensors } from '../src';
import { type Row, samplingTensors } from './sampling-tensors';

// Float64 reference of the penalised logits, as defined in src/api.ts.
function penalised(logits: ArrayLike<number>, r: Row): number[] {
  const x = Array.from(logits);
  const rep = r.repetitionPenalty ?? 1;
  for (const t of new Set([...(r.prompt ?? []), ...(r.output ?? [])])) x[t] = x[t] > 0 ? x[t] / rep : x[t] * rep;
  const counts = new Map<number, number>();
  for (const t of r.output ?? []) counts.set(t, (counts.get(t) ?? 0) + 1);
  for (const [t, n] of counts) x[t] -= (r.presencePenalty ?? 0) + (r.frequencyPenalty ?? 0) * n;
  return x;
}

function softmax(x: number[]): number[] {
  const m = Math.max(...x);
  const e = x.map((v) => Math.exp(v - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

// The tokens top-k, then top-p, then min-p keep, in float64.
function allowed(logits: number[], r: Row): Set<number> {
  const T = r.temperature ?? 1;
  const order = logits.map((v, i) => [v / T, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  let kept = r.topK && r.topK > 0 ? order.slice(0, r.topK) : order;
  const probs = softmax(kept.map((e) => e[0]));
  if ((r.topP ?? 1) < 1) {
    let cum = 0;
    let n = 0;
    while (n < kept.length) {
      cum += probs[n++];
      if (cum >= (r.topP ?? 1)) break;
    }
    kept = kept.slice(0, n);
  }
  if ((r.minP ?? 0) > 0) kept = kept.filter((e) => Math.exp(e[0] - kept[0][0]) >= (r.minP ?? 0));
  return new Set(kept.map((e) => e[1]));
}

describe.each(devices())('sampling on %s', (device) => {
  const b = backendFor(device);

  function sample(logits: Float32Array, V: number, rows: Row[]): number[] {
    const out = b.empty([rows.length], 'i32');
    b.sample(out, b.fromHost(logits, [rows.length, V], 'f32'), samplingTensors(b, rows));
    return Array.from(b.toHost(out) as Int32Array);
  }

  function repeatRows(row: ArrayLike<number>, n: number): Float32Array {
    const out = new Float32Array(n * row.length);
    for (let i = 0; i < n; i++) out.set(row as Float32Array, i * row.length);
    return out;
  }

  function argmaxRef(x: ArrayLike<number>): number {
    let best = 0;
    for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
    return best;
  }

  it('temperature 0 is greedy and equals argmax', () => {
    const rng = new Rng(1);
    const [B, V] = [9, 1001];
    const logits = rng.floats(B * V, 3);
    const tokens = sample(logits, V, Array.from({ length: B }, (_, i) => ({ temperature: 0, seed: i, topK: 5, topP: 0.5 })));
    const am = b.empty([B], 'i32');
    b.argmax(am, b.fromHost(logits, [B, V], 'f32'));
    const ref = Array.from({ length: B }, (_, i) => argmaxRef(logits.subarray(i * V, (i + 1) * V)));
    expect(tokens).toEqual(ref);
    expect(Array.from(b.toHost(am) as Int32Array)).toEqual(ref);
  });

  it('argmax breaks ties toward the lowest index', () => {
    const out = b.empty([1], 'i32');
    b.argmax(out, b.fromHost(Float32Array.from([1, 3, 0, 3, 3]), [1, 5], 'f32'));
    expect((b.toHost(out) as Int32Array)[0]).toBe(1);
  });

  it('is reproducible per (seed, step) and independent of batch composition', () => {
    const rng = new Rng(2);
    const V = 300;
    const logits = rng.floats(6 * V, 2);
    const rows: Row[] = Array.from({ length: 6 }, (_, i) => ({ seed: 1000 + i, step: 7 * i, temperature: 0.9, topP: 0.95 }));
    const all = sample(logits, V, rows);
    expect(sample(logits, V, rows)).toEqual(all);
    for (let i = 0; i < 6; i++) {
      expect(sample(logits.slice(i * V, (i + 1) * V), V, [rows[i]])).toEqual([all[i]]);
    }
    const reversed = Float32Array.from(Array.from({ length: 6 }, (_, i) => Array.from(logits.subarray((5 - i) * V, (6 - i) * V))).flat());
    expect(sample(reversed, V, rows.slice().reverse())).toEqual(all.slice().reverse());
    const draws = new Set(Array.from({ length: 50 }, (_, s) => sample(logits.slice(0, V), V, [{ seed: 5, step: s }])[0]));
    expect(draws.size).toBeGreaterThan(5);
  });

  it('matches softmax(logits / T) empirically (chi-square)', () => {
    const rng = new Rng(3);
    const V = 8;
    const row = rng.floats(V, 1.5);
    for (const temperature of [1, 0.6]) {
      const N = 20000;
      const tokens = sample(repeatRows(row, N), V, Array.from({ length: N }, (_, s) => ({ seed: 42, step: s, temperature })));
      const p = softmax(Array.from(row, (v) => v / temperature));
      const counts = new Array(V).fill(0);
      for (const t of tokens) counts[t]++;
      const chi2 = counts.reduce((acc, c, i) => acc + (c - N * p[i]) ** 2 / (N * p[i]), 0);
      expect(chi2).toBeLessThan(30); // 7 degrees of freedom: p < 1e-4
    }
  });

  it.each<[string, Row, number, number]>([
    ['top-k', { topK: 7 }, 97, 2],
    ['top-p', { topP: 0.6 }, 97, 2],
    ['min-p', { minP: 0.2 }, 97, 2],
    ['top-k then top-p then min-p', { topK: 20, topP: 0.9, minP: 0.05, temperature: 0.8 }, 97, 2],
    ['top-p over a wide, flat vocabulary', { topP: 0.5 }, 5000, 0.3],
  ])('%s never picks an excluded token', (_name, params, V, scale) => {
    const rng = new Rng(4);
    const row = rng.floats(V, scale);
    const N = V > 1000 ? 600 : 3000;
    const tokens = sample(repeatRows(row, N), V, Array.from({ length: N }, (_, s) => ({ ...params, seed: 9, step: s })));
    const ok = allowed(Array.from(row), params);
    expect(ok.size).toBeLessThan(V);
    for (const t of tokens) expect(ok.has(t)).toBe(true);
    expect(new Set(tokens).size).toBeGreaterThan(1);
  });

  it('applies repetition, presence and frequency penalties as defined', () => {
    // Greedy picks reveal the penalised order exactly.
    const cases: [number[], Row, number][] = [
      [[2.0, 1.5, -3], { repetitionPenalty: 1.5, prompt: [0] }, 1], // 2/1.5 < 1.5
      [[2.0, 1.2, -3], { repetitionPenalty: 1.5, output: [0] }, 0], // 2/1.5 > 1.2
      [[-1.0, -1.2, -3], { repetitionPenalty: 1.5, output: [0] }, 1], // -1*1.5 < -1.2
      [[2.0, 1.0, -3], { presencePenalty: 0.2, frequencyPenalty: 0.3, output: [0, 0, 0] }, 1], // 2 - 1.1 < 1
      [[2.0, 0.85, -3], { presencePenalty: 0.2, frequencyPenalty: 0.3, output: [0, 2, 0, 0] }, 0], // 0.9 > 0.85
      [[2.0, 1.9, -3], { presencePenalty: 5, frequencyPenalty: 5, prompt: [0] }, 0], // prompt tokens are not in presence/frequency
    ];
    for (const [logits, row, expected] of cases) {
      expect(sample(Float32Array.from(logits), 3, [{ ...row, temperature: 0 }])).toEqual([expected]);
      expect(argmaxRef(penalised(logits, row))).toBe(expected);
    }
  });

  it('samples from the penalised distribution (chi-square)', () => {
    const rng = new Rng(5);
    const V = 6;
    const row = rng.floats(V);
    const params: Row = { repetitionPenalty: 1.3, presencePenalty: 0.4, frequencyPenalty: 0.2, prompt: [1, 4], output: [2, 2, 4] };
    const N = 20000;
    const tokens = sample(repeatRows(row, N), V, Array.from({ length: N }, (_, s) => ({ ...params, seed: 77, step: s })));
    const p = softmax(penalised(row, params));
    const counts = new Array(V).fill(0);
    for (const t of tokens) counts[t]++;
    const chi2 = counts.reduce((acc, c, i) => acc + (c - N * p[i]) ** 2 / (N * p[i]), 0);
    expect(chi2).toBeLessThan(30);
  });

  it('handles an empty batch', () => {
    const out = b.empty([0], 'i32');
    b.sample(out, b.empty([0, 5], 'f32'), samplingTensors(b, []));
    expect(out.numel).toBe(0);
  });

  it('rejects bad sampling arguments naming the field', () => {
    const logits = b.fromHost(new Rng(6).floats(2 * 10), [2, 10], 'f32');
    const out = b.empty([2], 'i32');
    const good = samplingTensors(b, [{}, {}]);
    expectKernelError(() => b.sample(out, logits, samplingTensors(b, [{ prompt: [10] }, {}])), 'E_RANGE', 'sample', 'params.promptTokens');
    expectKernelError(() => b.sample(out, logits, { ...good, seeds: b.fromHost(Int32Array.from([1, 2]), [2], 'i32') }), 'E_DTYPE', 'sample', 'params.seeds');
    expectKernelError(() => b.sample(out, logits, { ...good, topK: b.fromHost(Int32Array.from([1]), [1], 'i32') }), 'E_SHAPE', 'sample', 'params.topK');
    expectKernelError(() => b.sample(out, logits, { ...good, outputOffsets: b.fromHost(Int32Array.from([0, 1, 0]), [3], 'i32') }), 'E_RANGE', 'sample', 'params.outputOffsets');
    const { steps: _steps, ...missing } = good;
    expectKernelError(() => b.sample(out, logits, missing as SamplingTensors), 'E_ARG_TYPE', 'sample', 'params.steps');
    expectKernelError(() => b.sample(b.empty([3], 'i32'), logits, good), 'E_SHAPE', 'sample', 'out');
  });

  // CUDA marks a row's penalty tokens in a counts workspace that must be zero between calls: an id == V marked the
  // next row's (or unowned) memory and was never cleared, so a later request's penalty hit a token it never saw.
  it('a penalty token id equal to the vocabulary size is rejected and leaves later penalties unchanged', () => {
    const V = 10;
    const row = [5, 4, 0, 0, 0, 0, 0, 0, 0, 0]; // token 0 wins unless something penalises it
    const logits = b.fromHost(Float32Array.from([...row, ...row]), [2, V], 'f32');
    const out = b.empty([2], 'i32');
    const later = () => {
      b.sample(out, logits, samplingTensors(b, [{ temperature: 0 }, { temperature: 0, repetitionPenalty: 4, prompt: [5] }]));
      return Array.from(b.toHost(out) as Int32Array);
    };
    expect(later()).toEqual([0, 0]);
    expectKernelError(
      () => b.sample(out, logits, samplingTensors(b, [{ temperature: 0, repetitionPenalty: 4, prompt: [V] }, { temperature: 0 }])),
      'E_RANGE', 'sample', 'params.promptTokens',
    );
    expectKernelError(
      () => b.sample(out, logits, samplingTensors(b, [{ temperature: 0 }, { temperature: 0, frequencyPenalty: 9, output: [V] }])),
      'E_RANGE', 'sample', 'params.outputTokens',
    );
    expect(later()).toEqual([0, 0]);
  });

  it('logSoftmaxTopK returns the k largest log-probabilities, descending', () => {
    const rng = new Rng(7);
    const [B, V, k] = [5, 333, 6];
    const logits = rng.floats(B * V, 3);
    const values = b.empty([B, k], 'f32');
    const indices = b.empty([B, k], 'i32');
    b.logSoftmaxTopK(values, indices, b.fromHost(logits, [B, V], 'f32'), k);
    const refV: number[] = [];
    const refI: number[] = [];
    for (let r = 0; r < B; r++) {
      const x = Array.from(logits.subarray(r * V, (r + 1) * V));
      const m = Math.max(...x);
      const lse = m + Math.log(x.reduce((a, v) => a + Math.exp(v - m), 0));
      const order = x.map((v, i) => [v, i]).sort((a, c) => c[0] - a[0] || a[1] - c[1]).slice(0, k);
      refV.push(...order.map((e) => e[0] - lse));
      refI.push(...order.map((e) => e[1]));
    }
    expect(Array.from(b.toHost(indices) as Int32Array)).toEqual(refI);
    expect(relErr(b.toHost(values) as Float32Array, refV)).toBeLessThan(F32_TOL);
    expectKernelError(() => b.logSoftmaxTopK(values, indices, b.fromHost(logits, [B, V], 'f32'), V + 1), 'E_RANGE', 'logSoftmaxTopK', 'k');
  });

  it('gatherLogProbs returns log-softmax at the given tokens', () => {
    const rng = new Rng(8);
    const [B, V] = [4, 129];
    const logits = rng.floats(B * V, 2);
    const tokens = Array.from({ length: B }, () => rng.int(V));
    const out = b.empty([B], 'f32');
    b.gatherLogProbs(out, b.fromHost(logits, [B, V], 'f32'), b.fromHost(Int32Array.from(tokens), [B], 'i32'));
    const ref = tokens.map((t, r) => {
      const x = Array.from(logits.subarray(r * V, (r + 1) * V));
      const m = Math.max(...x);
      return x[t] - m - Math.log(x.reduce((a, v) => a + Math.exp(v - m), 0));
    });
    expect(relErr(b.toHost(out) as Float32Array, ref)).toBeLessThan(F32_TOL);
    expectKernelError(
      () => b.gatherLogProbs(out, b.fromHost(logits, [B, V], 'f32'), b.fromHost(Int32Array.from([0, 1, V, 2]), [B], 'i32')),
      'E_RANGE', 'gatherLogProbs', 'tokens',
    );
  });
});
