import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import pino from 'pino';
import type { Completion } from '../jobs/schema';
import { decodeCommitNote } from './commit-note';
import { Exporter, type ExportItem } from './exporter';
import { FileObjectStore } from './file-store';
import type { ExportManifest } from './manifest';

const completion = (job: string, batch: string, worker = 'w1'): Completion => ({
  job_id: job,
  batch_id: batch,
  outputs: [{ index: 0, text: `echo ${job}`, finish_reason: 'stop' }],
  usage: { prompt_tokens: 1, completion_tokens: 1 },
  timings: { queued_ms: 0, total_ms: 0 },
  model: 'echo',
  worker_id: worker,
  metadata: {},
  error: null,
  completed_at: 1,
});
const name = (p: number, a: number, b: number) => `part-0000${p}-${String(a).padStart(19, '0')}-${String(b).padStart(19, '0')}.jsonl`;
const range = (batch: string, from: number, to: number, worker = 'w1'): ExportItem[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ offset: BigInt(from + i), completion: completion(`j${from + i}`, batch, worker) }));

describe('Exporter over the file target', () => {
  let dir: string;
  let exporter: Exporter;
  const make = (workerId: string) => new Exporter(new FileObjectStore(dir), { prefix: 'out', format: 'jsonl', workerId, retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 } }, pino({ level: 'silent' }));
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-export-'));
    exporter = make('w1');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const manifestPath = (batch: string) => join(dir, 'out', `batch_id=${batch}`, 'manifest.json');
  const manifest = (batch: string) => JSON.parse(readFileSync(manifestPath(batch), 'utf8')) as ExportManifest;
  const keys = (batch: string) => manifest(batch).parts.map((p) => p.key.slice(p.key.lastIndexOf('/') + 1));
  const object = (batch: string, n: string) => readFileSync(join(dir, 'out', `batch_id=${batch}`, n));

  it('stages one part per batch in the range, lists them only on publish, with counts and checksums', async () => {
    const staged = await exporter.stageRange(2, [
      { offset: 5n, completion: completion('a', 'b1') },
      { offset: 6n, completion: completion('b', 'b2') },
      { offset: 8n, completion: completion('c', 'b1') },
    ]);
    const body = object('b1', name(2, 5, 8));
    expect(body.toString().trim().split('\n').map((l) => (JSON.parse(l) as Completion).job_id)).toEqual(['a', 'c']);
    expect(existsSync(manifestPath('b1'))).toBe(false);
    expect(decodeCommitNote(staged.note, 'p2')).toEqual({
      prefix: 'out',
      format: 'jsonl',
      parts: [{ batchId: 'b1', firstOffset: 5, lastOffset: 8, records: 2, errors: 0 }, { batchId: 'b2', firstOffset: 6, lastOffset: 6, records: 1, errors: 0 }],
    });
    await exporter.publish(staged);
    const m = manifest('b1');
    expect(m.completions).toBe(2);
    expect(m.parts).toEqual([expect.objectContaining({ key: `out/batch_id=b1/${name(2, 5, 8)}`, partition: 2, first_offset: 5, last_offset: 8, records: 2, bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') })]);
    expect(keys('b2')).toEqual([name(2, 6, 6)]);
  });

  it('a failed commit leaves the manifest unchanged; only the committed attempt of a range is listed', async () => {
    await exporter.publish(await exporter.stageRange(0, range('b', 0, 2)));
    const before = readFileSync(manifestPath('b'));
    await exporter.stageRange(0, range('b', 3, 8)); // its commit failed: never published
    expect(readFileSync(manifestPath('b'))).toEqual(before);
    await exporter.publish(await exporter.stageRange(0, range('b', 3, 5))); // the retry, cut differently
    await exporter.publish(await exporter.stageRange(0, range('b', 6, 9)));
    expect(keys('b')).toEqual([name(0, 0, 2), name(0, 3, 5), name(0, 6, 9)]);
    expect(manifest('b').completions).toBe(10);
    // The failed attempt's object stays, unlisted: readers go by the manifest.
    expect(readdirSync(join(dir, 'out', 'batch_id=b')).sort()).toEqual(['manifest.json', name(0, 0, 2), name(0, 3, 5), name(0, 3, 8), name(0, 6, 9)]);
  });

  it('a revoked worker finishing late neither drops nor overwrites the new owner’s committed parts', async () => {
    const owner = make('new-owner');
    for (const [a, b] of [[104, 111], [112, 119], [120, 127]]) await owner.publish(await owner.stageRange(1, range('b', a, b, 'new-owner')));
    const committedBody = object('b', name(1, 112, 119));
    // The zombie stages a range starting earlier and one with a key the owner committed; its commits are fenced.
    const zombie = make('zombie');
    await zombie.stageRange(1, range('b', 100, 119, 'zombie'));
    const clash = await zombie.stageRange(1, range('b', 112, 119, 'zombie'));
    expect(clash.parts[0].taken).toBe(true);
    expect(object('b', name(1, 112, 119))).toEqual(committedBody);
    expect(keys('b')).toEqual([name(1, 104, 111), name(1, 112, 119), name(1, 120, 127)]);
    expect(manifest('b').completions).toBe(24);
  });

  it('the committer’s bytes replace an earlier attempt’s object at the same key, and the manifest matches them', async () => {
    const zombie = make('zombie');
    await zombie.stageRange(0, range('b', 0, 4, 'zombie')); // written first, never committed
    const staged = await exporter.stageRange(0, range('b', 0, 4, 'w1'));
    expect(staged.parts[0].taken).toBe(true);
    await exporter.publish(staged);
    const body = object('b', name(0, 0, 4));
    expect(body.toString()).toContain('"worker_id":"w1"');
    expect(manifest('b').parts[0].sha256).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it('after its commit the committer puts its bytes back if a racing attempt overwrote its freshly created part', async () => {
    const staged = await exporter.stageRange(0, range('b', 0, 4, 'w1'));
    expect(staged.parts[0].taken).toBe(false);
    await new FileObjectStore(dir).put(staged.parts[0].entry.key, Buffer.from('a racing attempt\n')); // a non-atomic create-only write landing late
    await exporter.publish(staged);
    const body = object('b', name(0, 0, 4));
    expect(body).toEqual(staged.parts[0].body);
    expect(manifest('b').parts[0].sha256).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it('repair lists exactly the noted parts a manifest misses, and is idempotent', async () => {
    await exporter.publish(await exporter.stageRange(0, range('a', 0, 3)));
    // Committed with its note, then the worker died before publishing: b is missing, a's part for this range too.
    const items = [...range('a', 4, 6), ...range('b', 7, 9)];
    const staged = await exporter.stageRange(0, items);
    await exporter.publish({ ...staged, parts: staged.parts.filter((p) => p.batchId === 'b') }); // only b got listed
    const next = make('next-owner');
    expect(await next.repair(0, staged.note)).toEqual([`out/batch_id=a/${name(0, 4, 6)}`]);
    expect(keys('a')).toEqual([name(0, 0, 3), name(0, 4, 6)]);
    expect(manifest('a').completions).toBe(7);
    expect(manifest('a').parts[1]).toEqual(staged.parts[0].entry);
    expect(await next.repair(0, staged.note)).toEqual([]);
    expect(await next.repair(0, '')).toEqual([]);
    expect(await next.repair(0, null)).toEqual([]);
  });

  it('loses no part when processes race on a store whose conditional writes are not atomic (last write wins)', async () => {
    class RacyStore extends FileObjectStore {
      override async putIfUnchanged(key: string, body: Buffer): Promise<boolean> {
        await new Promise((r) => setTimeout(r, Math.random() * 5));
        await this.put(key, body);
        return true;
      }
    }
    const workers = [0, 1, 2, 3].map((w) => new Exporter(new RacyStore(dir), { prefix: 'out', format: 'jsonl', workerId: `w${w}`, retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 } }, pino({ level: 'silent' })));
    await Promise.all(
      workers.map(async (x, w) => {
        for (let i = 0; i < 5; i++) await x.publish(await x.stageRange(w, range('b', i * 10, i * 10 + 9)));
      }),
    );
    expect(manifest('b').parts).toHaveLength(20);
    expect(manifest('b').completions).toBe(200);
  });

  it('lists parts published together in shared manifest updates, without losing one', async () => {
    // Each manifest read takes 50 ms: the parts published while the first update runs all wait for, and share, the second.
    let manifestReads = 0;
    class SlowManifestStore extends FileObjectStore {
      override async get(key: string) {
        if (key.endsWith('manifest.json')) {
          manifestReads++;
          await new Promise((r) => setTimeout(r, 50));
        }
        return super.get(key);
      }
    }
    const shared = new Exporter(new SlowManifestStore(dir), { prefix: 'out', format: 'jsonl', workerId: 'w1', retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 } }, pino({ level: 'silent' }));
    const staged = await Promise.all([0, 1, 2, 3, 4, 5].map((p) => shared.stageRange(p, [{ offset: 0n, completion: completion(`j${p}`, 'b') }])));
    const first = shared.publish(staged[0]);
    await new Promise((r) => setTimeout(r, 20));
    await Promise.all([first, ...staged.slice(1).map((s) => shared.publish(s))]);
    expect(manifest('b').parts.map((p) => p.partition)).toEqual([0, 1, 2, 3, 4, 5]);
    // The first update reads, writes and reads back (listing the others from their commit records too); the second
    // reads once and finds nothing to add. One update per part would read the manifest seven times.
    expect(manifestReads).toBe(3);
  });
});
