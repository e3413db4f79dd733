// Deterministic mixed datasets: the shapes of job a real batch carries, from one seed.
import { writeFileSync } from 'node:fs';

const TOPICS = ['rivers', 'queues', 'lighthouses', 'sluice gates', 'tides', 'kafka logs', 'bridges', 'canals', 'snow', 'clocks'];
const STARTS = ['Write one sentence about', 'Describe', 'List three facts about', 'Explain briefly', 'A short poem on'];

/** mulberry32: a tiny seeded PRNG, so a dataset is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type DatasetRow = Record<string, unknown> & { custom_id: string };

/**
 * `count` rows cycling through the job kinds a batch mixes: greedy text, seeded sampling, n > 1 with best_of,
 * beam search, stop strings, chat messages (with a unicode turn), and a longer prompt.
 */
export function mixedRows(count: number, seed = 7): DatasetRow[] {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  return Array.from({ length: count }, (_, i) => {
    const custom_id = `job-${String(i).padStart(5, '0')}`;
    const subject = `${pick(STARTS)} ${pick(TOPICS)}`;
    const max_tokens = 4 + Math.floor(rnd() * 9);
    switch (i % 7) {
      case 0:
        return { custom_id, prompt: `${subject}.`, max_tokens, temperature: 0 };
      case 1:
        return { custom_id, prompt: `${subject}.`, max_tokens, temperature: 0.8, top_p: 0.9, seed: 1000 + i };
      case 2:
        return { custom_id, prompt: `${subject}.`, max_tokens, n: 2, best_of: 3, temperature: 0.7, seed: i };
      case 3:
        return { custom_id, prompt: `${subject}.`, max_tokens, use_beam_search: true, beam_width: 2, temperature: 0 };
      case 4:
        return { custom_id, prompt: `${subject}.`, max_tokens: 12, stop: ['e', '.'], temperature: 0 };
      case 5:
        return {
          custom_id,
          messages: [
            { role: 'system', content: 'You are brief.' },
            { role: 'user', content: `${subject} — en français, s'il vous plaît. 🌊` },
          ],
          max_tokens,
          temperature: 0,
        };
      default:
        return { custom_id, prompt: `${subject}. ${Array.from({ length: 12 }, () => pick(TOPICS)).join(', ')}.`, max_tokens, temperature: 0 };
    }
  });
}

export function writeJsonl(path: string, rows: readonly object[]): void {
  writeFileSync(path, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
}
