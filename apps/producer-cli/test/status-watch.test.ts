// The built `sluice status` on a batch nobody produced, and --watch's progress line, over real topics.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { CompletionSchemas, DeadLetterSchemas } from '@sluice/schema';
import { brokers, completion, createTopics, deadLetter, freshTopics, jsonl, sluice, tempDir, writeText, writeTransaction } from './harness';

const dir = tempDir('status-watch');

describe('sluice status on an unknown batch, and --watch progress', () => {
  it('shows an unknown batch once as unknown, and under --watch refuses it after the grace period', async () => {
    const { topics, env } = freshTopics('unknown');
    await createTopics(topics, 1);
    const once = await sluice(['status', 'b-nobody', '--json'], env);
    expect(once.code).toBe(0);
    expect(JSON.parse(once.stdout)).toMatchObject({ jobs: null, pending: null, done: 0 });
    const started = Date.now();
    const watched = await sluice(['status', 'b-nobody', '--watch', '1', '--json'], env);
    expect(watched.code).toBe(4);
    expect(watched.stderr).toMatch(new RegExp(`^sluice: batch b-nobody not found after 3\\d s: no manifest on ${topics.batches} and no record of it on ${topics.results} or ${topics.dlq}\n$`));
    expect(Date.now() - started).toBeGreaterThanOrEqual(30_000);
  });

  it('shows a progress line with jobs/s, tokens/s, failures and the ETA on every refresh', async () => {
    const { topics, env } = freshTopics('progress');
    await createTopics(topics, 1);
    const file = writeText(dir, 'two.jsonl', jsonl([{ prompt: 'a' }, { prompt: 'b' }]));
    expect((await sluice(['produce', file, '--batch-id', 'b-p'], env)).code).toBe(0);
    const child = spawn(process.execPath, [join(__dirname, '..', 'dist', 'main.js'), 'status', 'b-p', '--watch', '0.2'], { env: { ...process.env, SLUICE_KAFKA_BROKERS: brokers(), ...env } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    while (!out.includes('ETA')) await new Promise((r) => setTimeout(r, 50));
    expect(out).toContain('[------------------------]   0.0% 0/2 | 0.0 jobs/s | 0 tokens/s | 0 failed | ETA ?');
    await writeTransaction(topics.results, CompletionSchemas, [{ key: 'b-p-0', value: completion('b-p-0', 'b-p', 0) }]);
    await writeTransaction(topics.dlq, DeadLetterSchemas, [{ key: 'b-p-1', value: deadLetter('b-p-1', 'b-p', 1) }]);
    expect(await exited).toBe(0);
    const last = out.trim().split('\n').pop();
    expect(last).toMatch(/^\[#{24}\] 100\.0% 2\/2 \| \d+\.\d jobs\/s \| \d+ tokens\/s \| 1 failed \| ETA 0s$/);
  });
});
