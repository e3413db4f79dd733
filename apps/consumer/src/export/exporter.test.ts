import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import pino from 'pino';
import type { Completion } from '../jobs/schema';
import { Exporter } from './exporter';
import { FileObjectStore } from './file-store';
import type { ExportManifest } from './manifest';

const completion = (job: string, batch: string): Completion => ({
  job_id: job,
  batch_id: batch,
  outputs: [{ index: 0, text: `echo ${job}`, finish_reason: 'stop' }],
  usage: { prompt_tokens: 1, completion_tokens: 1 },
  timings: { queued_ms: 0, total_ms: 0 },
  model: 'echo',
  worker_id: 'w1',
  metadata: {},
  error: null,
  completed_at: 1,
});

describe('Exporter over the file target', () => {
  let dir: string;
  let exporter: Exporter;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-export-'));
    exporter = new Exporter(new FileObjectStore(dir), { prefix: 'out', format: 'jsonl', workerId: 'w1', retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 } }, pino({ level: 'silent' }));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const manifest = (batch: string) => JSON.parse(readFileSync(join(dir, 'out', `batch_id=${batch}`, 'manifest.json'), 'utf8')) as ExportManifest;

  it('writes one part per batch in the range, and a manifest with counts and checksums', async () => {
    await exporter.exportRange(2, [
      { offset: 5n, completion: completion('a', 'b1') },
      { offset: 6n, completion: completion('b', 'b2') },
      { offset: 8n, completion: completion('c', 'b1') },
    ]);
    const name = (p: number, a: number, b: number) => `part-0000${p}-${String(a).padStart(19, '0')}-${String(b).padStart(19, '0')}.jsonl`;
    const body = readFileSync(join(dir, 'out', 'batch_id=b1', name(2, 5, 8)));
    expect(body.toString().trim().split('\n').map((l) => (JSON.parse(l) as Completion).job_id)).toEqual(['a', 'c']);
    const m = manifest('b1');
    expect(m.completions).toBe(2);
    expect(m.parts).toEqual([expect.objectContaining({ key: `out/batch_id=b1/${name(2, 5, 8)}`, partition: 2, first_offset: 5, last_offset: 8, records: 2, bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') })]);
    expect(manifest('b2').parts[0].key).toBe(`out/batch_id=b2/${name(2, 6, 6)}`);
  });

  it('a replayed range replaces the uncommitted attempt, so every record is exported exactly once', async () => {
    const items = Array.from({ length: 10 }, (_, i) => ({ offset: BigInt(i), completion: completion(`j${i}`, 'b') }));
    await exporter.exportRange(0, items.slice(0, 3));
    await exporter.exportRange(0, items.slice(3, 9)); // never committed
    await exporter.exportRange(0, items.slice(3, 6)); // the replay, cut differently
    await exporter.exportRange(0, items.slice(6, 10));
    const m = manifest('b');
    const names = [[0, 2], [3, 5], [6, 9]].map(([a, b]) => `part-00000-${String(a).padStart(19, '0')}-${String(b).padStart(19, '0')}.jsonl`);
    expect(m.parts.map((p) => p.key)).toEqual(names.map((n) => `out/batch_id=b/${n}`));
    expect(m.completions).toBe(10);
    expect(readdirSync(join(dir, 'out', 'batch_id=b')).sort()).toEqual(['manifest.json', ...names]);
  });

  it('serializes concurrent manifest updates of one batch without losing a part', async () => {
    await Promise.all([0, 1, 2, 3].map((p) => exporter.exportRange(p, [{ offset: 0n, completion: completion(`j${p}`, 'b') }])));
    expect(manifest('b').parts.map((p) => p.partition)).toEqual([0, 1, 2, 3]);
  });
});
