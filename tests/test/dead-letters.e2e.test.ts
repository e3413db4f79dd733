// 100 malformed or invalid jobs mixed into a batch: each ends in the DLQ with its reason, the rest complete.
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { until } from '../src/apps';
import { mixedRows, writeJsonl } from '../src/dataset';
import { e2eEndpoints } from '../src/harness';
import { Pipeline } from '../src/pipeline';

const GOOD = 300;
const MAX_PROMPT_BYTES = 2048;

/** 100 bad records, 25 of each kind, with the dead-letter code each must get. */
function badRecords(batch: string): Array<{ key: string; value: Buffer; code: string }> {
  const out: Array<{ key: string; value: Buffer; code: string }> = [];
  for (let i = 0; i < 25; i++) {
    out.push({ key: `bad-bytes-${i}`, value: Buffer.from([0xc3, 0x28, 0x00, 0xff, i]), code: 'UNDECODABLE' });
    out.push({ key: `bad-schema-${i}`, value: Buffer.from(JSON.stringify({ job_id: `bad-schema-${i}`, batch_id: batch, created_at: Date.now() })), code: 'SCHEMA_VIOLATION' });
    out.push({ key: `bad-params-${i}`, value: Buffer.from(JSON.stringify({ job_id: `bad-params-${i}`, batch_id: batch, prompt: 'hi', created_at: Date.now(), sampling: i % 2 ? { temperature: -1 } : { top_p: 1.5 } })), code: 'INVALID_SAMPLING' });
    out.push({ key: `bad-size-${i}`, value: Buffer.from(JSON.stringify({ job_id: `bad-size-${i}`, batch_id: batch, prompt: 'x'.repeat(MAX_PROMPT_BYTES + 1 + i), created_at: Date.now() })), code: 'PROMPT_TOO_LARGE' });
  }
  return out;
}

describe('malformed and invalid jobs', () => {
  const p = new Pipeline();
  afterAll(() => p.close());

  it('each of 100 bad records lands in the DLQ with its reason and source offset, and the 300 good jobs complete', async () => {
    const rows = mixedRows(GOOD, 11);
    const file = join(p.dir, 'jobs.jsonl');
    writeJsonl(file, rows);
    await p.createBucket();
    const { batch_id: batch } = await p.produce(file);

    // Bad records go straight onto the jobs topic, between the good ones, as a careless upstream producer would write them.
    // They name a batch of their own: the good batch's manifest counts only what `sluice produce` wrote.
    const bad = badRecords(`${batch}-upstream`);
    const kafka = new Kafka({ clientId: 'e2e-bad-producer', brokers: e2eEndpoints().brokers, logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: p.topics.jobs, messages: bad.map((b) => ({ key: b.key, value: b.value })) });
    await producer.disconnect();

    const worker = p.startWorker('w1', { SLUICE_MAX_PROMPT_BYTES: String(MAX_PROMPT_BYTES) });
    await p.waitForBatch(batch, 900_000, () => worker.tail());
    let letters = await p.deadLetters();
    await until('100 dead letters', async () => (letters = await p.deadLetters()).length >= bad.length, 300_000, 1000);
    expect(letters).toHaveLength(bad.length);
    const byKey = new Map(letters.map((l) => [l.key?.toString() ?? '', l]));
    for (const b of bad) {
      const letter = byKey.get(b.key);
      expect({ key: b.key, code: letter?.error_code }).toEqual({ key: b.key, code: b.code });
      expect(letter!.error_message.length).toBeGreaterThan(0);
      expect(letter!.value?.equals(b.value)).toBe(true);
      expect(letter!.source_topic).toBe(p.topics.jobs);
      expect(letter!.source_offset).toBeGreaterThanOrEqual(0);
    }
    // A reason says what is wrong, e.g. which sampling parameter.
    expect(byKey.get('bad-params-1')!.error_message).toMatch(/temperature/);
    expect(byKey.get('bad-params-0')!.error_message).toMatch(/top_p/);

    const completions = (await p.committedCompletions()).filter((c) => c.batch_id === batch);
    expect(new Set(completions.map((c) => c.job_id))).toEqual(new Set(rows.map((r) => r.custom_id)));
    expect(completions).toHaveLength(GOOD);
    // The worker kept going the whole time.
    expect(await Promise.race([worker.exited, Promise.resolve('running')])).toBe('running');
  });
});
