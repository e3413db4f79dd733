import type { OutRecord } from './commit-sink';
import { chunks } from './commit-sink';

const rec = (topic: string, bytes: number): OutRecord => ({ topic, message: { key: 'k', value: Buffer.alloc(bytes) } });
const sizes = (cs: OutRecord[][]) => cs.map((c) => c.map((r) => (r.message.value as Buffer).length));

describe('chunks', () => {
  it('sends a record near the topic limit alone, and groups small ones up to 512 KiB', () => {
    const near = 1_048_588 - 128 - 1;
    const small = Array.from({ length: 5 }, () => rec('dlq', 200 * 1024));
    expect(sizes(chunks([small[0], rec('dlq', near), ...small.slice(1)], () => 1_048_588))).toEqual([[204800], [near], [204800, 204800], [204800, 204800]]);
  });

  it('keeps a chunk under the smallest limit of its topics when that is under 512 KiB', () => {
    const records = Array.from({ length: 6 }, (_, i) => rec(i % 2 ? 'small' : 'big', 30_000));
    const limit = (t: string) => (t === 'small' ? 100_000 : undefined);
    const out = chunks(records, limit);
    for (const c of out) expect(c.reduce((s, r) => s + (r.message.value as Buffer).length + 65, 0)).toBeLessThanOrEqual(100_000 - 128);
    expect(out.flat()).toEqual(records);
  });
});
