// The built `sluice` over the suite broker's TLS listeners (infra's local CA, made at the broker's start): the CA
// alone, mutual TLS by flags and by SLUICE_KAFKA_SSL_* variables, and the refusals as one line with the SERVICE code.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { localKafkaTls } from '@sluice/infra';
import { CompletionSchemas, PromptJobSchemas } from '@sluice/schema';
import { EXIT } from '../src/errors';
import { completion, freshTopics, jsonl, readRecords, sluice, tempDir, testSettings, writeText, writeTransaction, type CliRun } from './harness';

const tls = localKafkaTls(testSettings());
const dir = tempDir('kafka-tls');
const rows = writeText(dir, 'rows.jsonl', jsonl([{ prompt: 'one' }, { prompt: 'two' }, { prompt: 'three' }]));
const withCa = (brokers: string[]) => ['--brokers', brokers.join(','), '--kafka-ssl-ca', tls.ca];
const mutual = () => [...withCa(tls.mtlsBrokers), '--kafka-ssl-cert', tls.cert, '--kafka-ssl-key', tls.key];

/** A refused run: exit 3 and one `sluice: ` line on stderr, no stack trace; returns the line and the seconds it took. */
async function refused(args: string[], env: NodeJS.ProcessEnv): Promise<{ line: string; seconds: number }> {
  const started = Date.now();
  const run: CliRun = await sluice(args, env);
  const seconds = (Date.now() - started) / 1000;
  expect(run.code).toBe(EXIT.SERVICE);
  expect(run.stdout).toBe('');
  const lines = run.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^sluice: /);
  return { line: lines[0], seconds };
}

/** How long a refused TLS connection may take: kafkajs gives up after its retries (5 here), never waiting out a read. */
const REFUSAL_BOUND_S = 60;

describe('sluice over Kafka TLS', () => {
  it('produces and counts a batch over the TLS listener trusting the local CA', async () => {
    const { topics, env } = freshTopics('tls');
    const produce = await sluice(['produce', rows, '--batch-id', 'b-tls', '--create-topics', '--json', ...withCa(tls.brokers)], env);
    expect(produce).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(produce.stdout)).toMatchObject({ batch_id: 'b-tls', jobs: 3, topic: topics.jobs });
    // Read back over plaintext: the same broker, so the TLS path wrote real records.
    expect((await readRecords(topics.jobs, PromptJobSchemas)).map((r) => r.value.job_id).sort()).toEqual(['b-tls-0', 'b-tls-1', 'b-tls-2']);

    const status = await sluice(['status', 'b-tls', '--json', '--timeout', '30', ...withCa(tls.brokers)], env);
    expect(status).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(status.stdout)).toMatchObject({ batch_id: 'b-tls', jobs: 3, done: 0, pending: 3 });
  });

  it('produces and collects a batch over the mutual-TLS listener with the client certificate and key', async () => {
    const { topics, env } = freshTopics('mtls');
    const produce = await sluice(['produce', rows, '--batch-id', 'b-mtls', '--create-topics', '--json', ...mutual()], env);
    expect(produce).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(produce.stdout)).toMatchObject({ jobs: 3 });
    await writeTransaction(topics.results, CompletionSchemas, [0, 1, 2].map((i) => ({ key: `b-mtls-${i}`, value: completion(`b-mtls-${i}`, 'b-mtls', i) })));

    const out = join(dir, 'mtls.jsonl');
    const collect = await sluice(['collect', 'b-mtls', '-o', out, '--json', '--timeout', '30', ...mutual()], env);
    expect(collect.code).toBe(0);
    expect(JSON.parse(collect.stdout)).toMatchObject({ written: 3, jobs: 3, pending: 0, source: topics.results });
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { job_id: string; outputs: Array<{ text: string }> });
    expect(lines.map((l) => [l.job_id, l.outputs[0]?.text])).toEqual([0, 1, 2].map((i) => [`b-mtls-${i}`, `answer b-mtls-${i}`]));
  });

  it('takes the same settings from the SLUICE_KAFKA_SSL_* variables', async () => {
    const { env } = freshTopics('tls-env');
    const tlsEnv = { ...env, SLUICE_KAFKA_BROKERS: tls.mtlsBrokers.join(','), SLUICE_KAFKA_SSL_CA: tls.ca, SLUICE_KAFKA_SSL_CERT: tls.cert, SLUICE_KAFKA_SSL_KEY: tls.key };
    const produce = await sluice(['produce', rows, '--batch-id', 'b-env', '--create-topics', '--json'], tlsEnv);
    expect(produce).toMatchObject({ code: 0, stderr: '' });
    const status = await sluice(['status', 'b-env', '--json', '--timeout', '30'], tlsEnv);
    expect(status).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(status.stdout)).toMatchObject({ jobs: 3, pending: 3 });
  });

  it('refuses a broker certificate the system CAs do not know, in one line', async () => {
    const { env } = freshTopics('tls-noca');
    const produce = await refused(['produce', rows, '--batch-id', 'b-noca', '--create-topics', '--brokers', tls.brokers.join(','), '--kafka-ssl'], env);
    expect(produce.line).toBe(`sluice: checking topics failed (brokers ${tls.brokers.join(',')}): Connection error: self-signed certificate in certificate chain; the brokers' certificate is not trusted: give the CA that signed it (--kafka-ssl-ca)`);
    expect(produce.seconds).toBeLessThan(REFUSAL_BOUND_S);
    const status = await refused(['status', 'b-noca', '--timeout', '5', '--brokers', tls.brokers.join(','), '--kafka-ssl'], env);
    expect(status.line).toBe(`sluice: reading batch b-noca failed (brokers ${tls.brokers.join(',')}): Connection error: self-signed certificate in certificate chain; the brokers' certificate is not trusted: give the CA that signed it (--kafka-ssl-ca)`);
    expect(status.seconds).toBeLessThan(REFUSAL_BOUND_S);
  });

  it('is turned away by the mutual-TLS listener without a client certificate, in one line', async () => {
    const { env } = freshTopics('mtls-nocert');
    const produce = await refused(['produce', rows, '--batch-id', 'b-nocert', '--create-topics', ...withCa(tls.mtlsBrokers)], env);
    // The broker's TLS alert, as OpenSSL words it (bad_certificate under TLS 1.3's post-handshake read).
    expect(produce.line).toMatch(new RegExp(`^sluice: checking topics failed \\(brokers ${tls.mtlsBrokers.join(',')}\\): Connection error: .*(bad certificate|certificate required).*; the brokers want a client certificate they trust \\(mutual TLS\\): give it and its key \\(--kafka-ssl-cert/--kafka-ssl-key\\)$`));
    expect(produce.seconds).toBeLessThan(REFUSAL_BOUND_S);
  });
});
