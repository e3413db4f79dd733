// The main job end to end: a 2,000-job mixed batch through `sluice produce`, a `sluice-consumer` on the tiny model,
// the results topic, the S3 export, and `sluice collect`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mixedRows, writeJsonl } from '../src/dataset';
import { Pipeline } from '../src/pipeline';

const JOBS = 2000;

describe('a mixed 2,000-job batch', () => {
  const p = new Pipeline();
  afterAll(() => p.close());

  it('completes every job exactly once in the results topic, the S3 export and the manifest, and collects in input order', async () => {
    const rows = mixedRows(JOBS);
    const input = join(p.dir, 'jobs.jsonl');
    writeJsonl(input, rows);
    await p.createBucket();

    const produced = await p.produce(input);
    expect(produced).toMatchObject({ jobs: JOBS, bad_rows: 0 });
    const batch = produced.batch_id;

    const worker = p.startWorker('w1');
    const status = await p.waitForBatch(batch, 900_000, () => worker.tail());
    expect(status).toMatchObject({ jobs: JOBS, done: JOBS, failed: 0, dead_lettered: 0, pending: 0 });

    // read_committed: one completion per job, none twice, none missing, none failed.
    const completions = (await p.committedCompletions()).filter((c) => c.batch_id === batch);
    const ids = completions.map((c) => c.job_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids)).toEqual(new Set(rows.map((r) => r.custom_id)));
    expect(completions.filter((c) => c.error !== null)).toEqual([]);

    // Each job kind came back in its shape: n outputs, text, finish reasons, usage.
    const byId = new Map(completions.map((c) => [c.job_id, c]));
    for (const row of rows) {
      const c = byId.get(row.custom_id)!;
      // Beam search returns its beam_width beams; sampling returns n.
      expect(c.outputs).toHaveLength(Number(row.use_beam_search ? row.beam_width : row.n ?? 1));
      for (const o of c.outputs) expect(['stop', 'length']).toContain(o.finish_reason);
      expect(c.usage.prompt_tokens).toBeGreaterThan(0);
      expect(c.usage.completion_tokens).toBeGreaterThan(0);
      expect(c.usage.completion_tokens).toBeLessThanOrEqual(Number(row.max_tokens) * c.outputs.length);
    }
    // A stop string never shows in the text it ended.
    for (const row of rows.filter((r) => Array.isArray(r.stop))) {
      for (const o of byId.get(row.custom_id)!.outputs) if (o.finish_reason === 'stop' && o.stop_reason) expect(o.text.endsWith(String(o.stop_reason))).toBe(false);
    }

    // The S3 export: the manifest lists parts whose records are exactly the batch's jobs, once each.
    const manifest = await p.exportManifest(batch, JOBS);
    expect(manifest).toMatchObject({ batch_id: batch, completions: JOBS, errors: 0 });
    const exported: string[] = [];
    for (const part of manifest.parts) {
      const lines = (await p.object(part.key)).toString().trim().split('\n');
      expect(lines).toHaveLength(part.records);
      exported.push(...lines.map((l) => (JSON.parse(l) as { job_id: string }).job_id));
    }
    expect(exported.sort()).toEqual(ids.sort());

    // `sluice collect`, from Kafka and from the export, gives the input order back.
    const fromKafka = join(p.dir, 'collected.jsonl');
    expect(await p.collect(batch, fromKafka)).toMatchObject({ written: JOBS, failed: 0 });
    const collected = readFileSync(fromKafka, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { job_id: string; outputs: Array<{ text: string }> });
    expect(collected.map((c) => c.job_id)).toEqual(rows.map((r) => r.custom_id));
    expect(collected.map((c) => c.outputs.map((o) => o.text))).toEqual(rows.map((r) => byId.get(r.custom_id)!.outputs.map((o) => o.text)));

    const fromS3 = join(p.dir, 'collected-s3.jsonl');
    await p.collect(batch, fromS3, ['--from', `s3://${p.bucket}/${p.prefix}`]);
    expect(readFileSync(fromS3, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { job_id: string }).job_id)).toEqual(rows.map((r) => r.custom_id));
  });
});
