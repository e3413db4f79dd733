// The built `sluice status` over real topics: completions and dead letters written here with the schema codecs.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { CompletionSchemas, DeadLetterSchemas } from '@sluice/schema';
import { brokers, completion, createTopics, deadLetter, freshTopics, jsonl, sluice, tempDir, writeText, writeTransaction } from './harness';

const dir = tempDir('status');

describe('sluice status', () => {
  it('counts done, failed, dead-lettered and pending from committed records only', async () => {
    const { topics, env } = freshTopics('status');
    await createTopics(topics, 2);
    const file = writeText(dir, 'ten.jsonl', jsonl(Array.from({ length: 10 }, (_, i) => ({ prompt: `p${i}` }))));
    expect((await sluice(['produce', file, '--batch-id', 'b-st'], env)).code).toBe(0);
    const id = (i: number) => `b-st-${i}`;
    await writeTransaction(topics.results, CompletionSchemas, [
      ...[0, 1, 2, 3].map((i) => ({ key: id(i), value: completion(id(i), 'b-st', i) })),
      { key: id(4), value: completion(id(4), 'b-st', 4, 'DEADLINE_EXCEEDED') },
      // Another batch on the same topic is not counted.
      { key: 'other-0', value: completion('other-0', 'b-other', 0) },
    ]);
    // A retried job: its error is superseded by the later success.
    await writeTransaction(topics.results, CompletionSchemas, [{ key: id(5), value: completion(id(5), 'b-st', 5, 'ENGINE_ERROR') }]);
    await writeTransaction(topics.results, CompletionSchemas, [{ key: id(5), value: completion(id(5), 'b-st', 5) }]);
    // An aborted transaction is invisible to read_committed readers.
    await writeTransaction(topics.results, CompletionSchemas, [{ key: id(6), value: completion(id(6), 'b-st', 6) }], false);
    await writeTransaction(topics.dlq, DeadLetterSchemas, [{ key: id(8), value: deadLetter(id(8), 'b-st', 8, 8) }, { key: id(7), value: deadLetter(id(7), 'b-st', 7, 7) }]);

    const json = await sluice(['status', 'b-st', '--json'], env);
    expect(json.code).toBe(0);
    const usage = { prompt_tokens: 6 * 3, completion_tokens: 5 * 2, total_tokens: 28, cached_tokens: 0 };
    expect(JSON.parse(json.stdout)).toEqual({ batch_id: 'b-st', jobs: 10, done: 5, failed: 1, dead_lettered: 2, skipped: 0, pending: 2, unreadable: 0, usage });

    const text = await sluice(['status', 'b-st'], env);
    expect(text.stdout.split('\n').map((l) => l.trim().split(/\s+/))).toEqual([
      ['batch', 'b-st', '(from', `${file})`],
      ['jobs', '10'],
      ['done', '5'],
      ['failed', '1'],
      ['dead-lettered', '2'],
      ['pending', '2'],
      ['prompt', 'tokens', '18'],
      ['cached', 'tokens', '0'],
      ['output', 'tokens', '10'],
      [''],
    ]);

    // Every failed and dead-lettered job, in input order, with its code and reason.
    const failures = await sluice(['status', 'b-st', '--failures', '--json'], env);
    expect(JSON.parse(failures.stdout).failures).toEqual([
      { job_id: id(4), code: 'DEADLINE_EXCEEDED', message: 'failed with DEADLINE_EXCEEDED', dead_lettered: false },
      { job_id: id(7), code: 'UNDECODABLE', message: 'test dead letter', dead_lettered: true },
      { job_id: id(8), code: 'UNDECODABLE', message: 'test dead letter', dead_lettered: true },
    ]);
    const listed = (await sluice(['status', 'b-st', '--failures'], env)).stdout.trim().split('\n').slice(-4);
    expect(listed.map((l) => l.split(/\s{2,}/))).toEqual([
      ['job_id', 'code', 'reason'],
      [id(4), 'DEADLINE_EXCEEDED', 'failed with DEADLINE_EXCEEDED'],
      [id(7), 'UNDECODABLE (DLQ)', 'test dead letter'],
      [id(8), 'UNDECODABLE (DLQ)', 'test dead letter'],
    ]);
  });

  it('with --watch, refreshes until nothing is pending', async () => {
    const { topics, env } = freshTopics('watch');
    await createTopics(topics, 1);
    const file = writeText(dir, 'two.jsonl', jsonl([{ prompt: 'a' }, { prompt: 'b' }]));
    expect((await sluice(['produce', file, '--batch-id', 'b-w'], env)).code).toBe(0);

    const child = spawn(process.execPath, [join(__dirname, '..', 'dist', 'main.js'), 'status', 'b-w', '--watch', '0.2', '--json'], { env: { ...process.env, SLUICE_KAFKA_BROKERS: brokers(), ...env } });
    const lines: string[] = [];
    let buffered = '';
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      lines.push(...parts);
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    // Completions arrive only after the first refresh has shown the batch pending.
    while (lines.length === 0) await new Promise((r) => setTimeout(r, 50));
    expect(JSON.parse(lines[0])).toMatchObject({ jobs: 2, pending: 2 });
    await writeTransaction(topics.results, CompletionSchemas, [{ key: 'b-w-0', value: completion('b-w-0', 'b-w', 0) }]);
    await writeTransaction(topics.dlq, DeadLetterSchemas, [{ key: 'b-w-1', value: deadLetter('b-w-1', 'b-w', 1) }]);
    expect(await exited).toBe(0);
    expect(JSON.parse(lines[lines.length - 1])).toMatchObject({ jobs: 2, done: 1, dead_lettered: 1, pending: 0 });
  });

  it('refuses a batch id that could not have been produced', async () => {
    const run = await sluice(['status', '../etc']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe('sluice: <batch>: "../etc" must be 1-128 letters, digits or . _ : - starting with a letter or digit');
  });

  it('says which setting is wrong when the broker cannot be reached', async () => {
    const run = await sluice(['status', 'b-x', '--timeout', '5'], { SLUICE_KAFKA_BROKERS: '127.0.0.1:1' });
    expect(run.code).toBe(3);
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^sluice: reading batch b-x failed \(brokers 127\.0\.0\.1:1\): /)]);
  });
});
