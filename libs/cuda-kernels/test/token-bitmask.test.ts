import { backendFor, devices, expectKernelError, Rng } from './helpers';
import { samplingTensors } from './sampling-tensors';

// A random allowed set per row, as XGrammar's bitmask (bit v % 32 of word v / 32) and as a set.
function randomMask(rng: Rng, B: number, V: number, density: number): { words: Int32Array; allowed: Array<Set<number>> } {
  const W = Math.ceil(V / 32);
  const words = new Int32Array(B * W);
  const allowed = Array.from({ length: B }, () => new Set<number>());
  for (let b = 0; b < B; b++) {
    // At least one token per row stays allowed, as a grammar always allows one (a stop token at the end).
    const forced = rng.int(V);
    for (let v = 0; v < V; v++) {
      if (v !== forced && rng.next() >= density) continue;
      words[b * W + (v >> 5)] |= 1 << (v & 31);
      allowed[b].add(v);
    }
  }
  return { words, allowed };
}

describe.each(devices())('applyTokenBitmask on %s', (device) => {
  const b = backendFor(device);

  it.each([
    [1, 32, 0.5],
    [3, 902, 0.05],
    [5, 1000, 0.9],
    [64, 4099, 0.01],
  ])('B=%i V=%i density %f: masked logits are -inf, allowed ones unchanged', (B, V, density) => {
    const rng = new Rng(B * 7919 + V);
    const logits = rng.floats(B * V, 3);
    const { words, allowed } = randomMask(rng, B, V, density);
    const t = b.fromHost(logits, [B, V], 'f32');
    b.applyTokenBitmask(t, b.fromHost(words, [B, Math.ceil(V / 32)], 'i32'));
    const out = b.toHost(t) as Float32Array;
    let wrong = 0;
    for (let r = 0; r < B; r++) {
      for (let v = 0; v < V; v++) {
        const want = allowed[r].has(v) ? logits[r * V + v] : -Infinity;
        if (out[r * V + v] !== want) wrong++;
      }
    }
    expect(wrong).toBe(0);
  });

  it('greedy and seeded sampling after the mask only ever pick allowed tokens', () => {
    const B = 32;
    const V = 300;
    const rng = new Rng(11);
    const logits = rng.floats(B * V, 4);
    const { words, allowed } = randomMask(rng, B, V, 0.02);
    const t = b.fromHost(logits, [B, V], 'f32');
    b.applyTokenBitmask(t, b.fromHost(words, [B, Math.ceil(V / 32)], 'i32'));
    const rows = Array.from({ length: B }, (_, i) => ({ temperature: i % 2 === 0 ? 0 : 1.5, topP: 0.9, seed: i }));
    const out = b.empty([B], 'i32');
    b.sample(out, t, samplingTensors(b, rows));
    const ids = Array.from(b.toHost(out) as Int32Array);
    expect(ids.filter((id, r) => !allowed[r].has(id))).toEqual([]);
  });

  it('rejects a bitmask of the wrong width or dtype', () => {
    const logits = b.empty([2, 64], 'f32');
    expectKernelError(() => b.applyTokenBitmask(logits, b.empty([2, 3], 'i32')), 'E_SHAPE', 'applyTokenBitmask', 'bitmask');
    expectKernelError(() => b.applyTokenBitmask(logits, b.empty([2, 2], 'f32')), 'E_DTYPE', 'applyTokenBitmask', 'bitmask');
  });
});
