// The built bin with --engine llm on the tiny model, exactly-once, against real Kafka and S3: completions visible
// to read_committed are the engine's own greedy output, and engine refusals land in the DLQ or as error completions.
import { randomUUID } from 'node:crypto';
import { LLM, type PromptInput } from '@sluice/engine';
import {
  createTopics, decodeCompletion, decodeDeadLetter, getObject, produce, readCommitted, s3Env, startConsumer, tinyModel, waitForCaughtUp, suiteFixture,
} from './harness';

const PARTITIONS = 2;

describe('sluice-consumer --engine llm (tiny-llama, exactly-once, real Kafka + S3)', () => {
  const fx = suiteFixture('sluice-llm');
  const bucket = fx.bucket;

  it('commits the engine\'s greedy completions once each, dead-letters what the engine finds invalid, answers what it cannot serve', async () => {
    const id = randomUUID().slice(0, 8);
    const t = { jobs: `jobs-${id}`, results: `results-${id}`, dlq: `dlq-${id}`, group: `group-${id}`, batch: `batch-${id}` };
    await createTopics(fx.admin, [t.jobs, t.results, t.dlq], PARTITIONS);
    const greedy = { temperature: 0, max_tokens: 8 };
    const good = Array.from({ length: 16 }, (_, i) =>
      i % 4 === 3
        ? { job_id: `${t.batch}-${i}`, batch_id: t.batch, messages: [{ role: 'user', content: `question ${i}` }], sampling: greedy, priority: i % 2 }
        : { job_id: `${t.batch}-${i}`, batch_id: t.batch, prompt: `prompt number ${i}`, sampling: greedy },
    );
    const invalid = [
      { job: { job_id: 'too-many-logprobs', batch_id: t.batch, prompt: 'x', sampling: { logprobs: 50 } }, code: 'INVALID_SAMPLING' },
      { job: { job_id: 'past-model-length', batch_id: t.batch, prompt: 'x', sampling: { max_tokens: 5000 } }, code: 'PROMPT_TOO_LARGE' },
      // An ambiguous grammar, held open by min_tokens: each mask costs more than the last, until one passes the
      // worker's --grammar-mask-timeout-ms (20 ms, after about 150 tokens) and only this job ends.
      { job: { job_id: 'ambiguous-grammar', batch_id: t.batch, prompt: 'x', sampling: { guided_grammar: 'root ::= x\nx ::= x x x | x x | "a" | "aa" | ""', min_tokens: 900, max_tokens: 900, temperature: 0 } }, code: 'INVALID_STRUCTURED_OUTPUT' },
    ];
    // Fits the model (2,048 tokens) but not this worker's 1 MiB KV cache (1,024 tokens).
    const unservable = { job_id: 'too-big-for-cache', batch_id: t.batch, prompt: 'x', sampling: { max_tokens: 1500 } };
    const all = [...good.slice(0, 8), ...invalid.map((b) => b.job), unservable, ...good.slice(8)];
    await produce(t.jobs, all.map((j) => ({ key: j.job_id, value: JSON.stringify({ ...j, metadata: {}, created_at: Date.now() }) })), PARTITIONS);

    const c = startConsumer(
      ['--engine', 'llm', '--model', tinyModel(), '--kv-cache-bytes', '1MiB', '--grammar-mask-timeout-ms', '20', '--jobs-topic', t.jobs, '--results-topic', t.results, '--dlq-topic', t.dlq, '--group', t.group, '--commit-interval-ms', '200'],
      s3Env(bucket, `exp-${id}`),
    );
    try {
      await waitForCaughtUp(fx.admin, t.group, t.jobs);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${c.logs.slice(-30).join('\n')}`);
    }
    c.child.kill('SIGTERM');
    expect(await c.exited).toBe(0);

    const results = await Promise.all((await readCommitted(fx.admin, t.results)).map((m) => decodeCompletion(m.value)));
    expect(results.map((r) => r.job_id).sort()).toEqual([...good.map((j) => j.job_id), unservable.job_id].sort());
    const byId = new Map(results.map((r) => [r.job_id, r]));
    expect(byId.get(unservable.job_id)?.error?.code).toBe('ENGINE_REJECTED');

    // The engine's own greedy output for the same inputs, computed here in-process.
    const llm = new LLM({ model: tinyModel() });
    try {
      const inputs: PromptInput[] = good.map((j) => ('messages' in j ? { messages: j.messages! } : { prompt: j.prompt! }));
      const expected = await llm.generate(inputs, { temperature: 0, maxTokens: 8 });
      good.forEach((j, i) => {
        const got = byId.get(j.job_id)!;
        expect(got.error).toBeNull();
        expect(got.model).toBe('tiny-llama');
        expect(got.outputs[0].text).toBe(expected[i].outputs[0].text);
        expect(got.outputs[0].token_ids).toEqual(expected[i].outputs[0].tokenIds);
        expect(got.usage).toMatchObject({ prompt_tokens: expected[i].usage.promptTokens, completion_tokens: 8 });
        // What the worker's prefix cache served depends on the jobs before it: a count of whole prompt tokens.
        expect(got.usage.cached_tokens).toBeGreaterThanOrEqual(0);
        expect(got.usage.cached_tokens).toBeLessThan(got.usage.prompt_tokens);
      });
    } finally {
      llm.close();
    }

    const dead = await Promise.all((await readCommitted(fx.admin, t.dlq)).map((m) => decodeDeadLetter(m.value)));
    expect(dead.map((d) => [d.job_id, d.error_code]).sort()).toEqual(invalid.map((b) => [b.job.job_id, b.code]).sort());

    const manifest = JSON.parse((await getObject(bucket, `exp-${id}/batch_id=${t.batch}/manifest.json`)).toString()) as { completions: number; errors: number };
    expect(manifest).toMatchObject({ completions: good.length, errors: 1 });
  });
});
