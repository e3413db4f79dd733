// The bf16 agreement rule of the dtype tests: greedy tokens equal the f32 run's until the first near-tie, each
// logprob within LP_MAX_TOL of the f32 one and their mean change within LP_MEAN_TOL (the 2e-2).
import type { RequestOutput } from '../../src/outputs';

export const BF16_PROMPTS = ['The river', 'Café 日本語 🙂🚀 привет — naïve ✓', 'a', 'Once upon a time there was'];
// Rounding the random tiny f32 models to bf16 moves a token's logprob by 0.007 on average and by up to 0.048
// (tiny-gqa, 2026-12-05): 2e-2 holds for the mean, not for every token.
export const LP_MEAN_TOL = 2e-2;
export const LP_MAX_TOL = 5e-2;
// The f32 top-2 gap under which bf16 rounding may pick the other token: twice the largest logprob change.
export const NEAR_TIE = 2 * LP_MAX_TOL;

/** Checks `bf16` against `f32` (run with logprobs >= 2); returns the positions compared and whether any logprob moved. */
export function expectBf16Agreement(f32: RequestOutput[], bf16: RequestOutput[]): { compared: number; differs: boolean } {
  let compared = 0;
  let sum = 0;
  let differs = false;
  f32.forEach((ref, p) => {
    const a = ref.outputs[0];
    const b = bf16[p].outputs[0];
    for (let i = 0; i < a.tokenIds.length; i++) {
      const top = a.logprobs![i].top!;
      if (b.tokenIds[i] !== a.tokenIds[i]) {
        expect(top[0].logprob - top[1].logprob).toBeLessThan(NEAR_TIE);
        break;
      }
      const d = Math.abs(b.logprobs![i].logprob - a.logprobs![i].logprob);
      expect(d).toBeLessThan(LP_MAX_TOL);
      differs ||= d > 0;
      sum += d;
      compared++;
    }
  });
  expect(sum / Math.max(1, compared)).toBeLessThan(LP_MEAN_TOL);
  return { compared, differs };
}
