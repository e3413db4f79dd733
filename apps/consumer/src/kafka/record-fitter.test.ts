import { Writable } from 'node:stream';
import { CompletionSchemas, DeadLetterSchemas, RecordCodec } from '@sluice/schema';
import type { KafkaMessage } from 'kafkajs';
import pino from 'pino';
import { deadLetter, type Origin, type RecordOutcome } from '../jobs/outcome';
import { RecordFitter } from './record-fitter';
import { BATCH_OVERHEAD_BYTES } from './topic-limits';

const LIMIT = 1_048_588;
const letters = new RecordCodec(DeadLetterSchemas);
const completions = new RecordCodec(CompletionSchemas);

function setup() {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, cb) => (lines.push(JSON.parse(String(chunk)) as Record<string, unknown>), cb()) }));
  const fitter = new RecordFitter({ limits: { maxMessageBytes: () => Promise.resolve(LIMIT) }, codecs: { completions, deadLetters: letters }, topics: { resultsTopic: 'results', dlqTopic: 'dlq' }, log });
  return { fitter, lines };
}

function origin(value: Buffer, key = 'job-1'): Origin {
  const message = { key: Buffer.from(key), value, headers: {}, offset: '41', timestamp: '0', attributes: 0 } as KafkaMessage;
  return { topic: 'jobs', partition: 3, message, workerId: 'w', receivedAt: 0 };
}

function completionOutcome(text: string, jobId = 'job-1'): RecordOutcome {
  const o = origin(Buffer.from('{}'), jobId);
  const completion = { job_id: jobId, batch_id: 'b1', outputs: [{ index: 0, text }], usage: { prompt_tokens: 1, completion_tokens: 2 }, timings: { queued_ms: 0, total_ms: 1 }, model: 'm', worker_id: 'w', metadata: {}, error: null, completed_at: 1 };
  return { kind: 'completion', completion, origin: o };
}

describe('RecordFitter', () => {
  it('produces records that fit as they are, and changes nothing', async () => {
    const { fitter, lines } = setup();
    const letter: RecordOutcome = { kind: 'dead-letter', key: Buffer.from('job-1'), deadLetter: deadLetter('UNDECODABLE', 'bad', origin(Buffer.from([0xff])), {}) };
    const done = completionOutcome('hello');
    const before = JSON.stringify([letter, done]);
    const records = await fitter.records([letter, done]);
    expect(records.map((r) => r.topic)).toEqual(['dlq', 'results']);
    expect((await completions.decode(records[1].message.value as Buffer)).outputs[0].text).toBe('hello');
    expect(JSON.stringify([letter, done])).toBe(before);
    expect(lines.filter((l) => l.level === 40)).toEqual([]);
  });

  it('cuts a dead letter of a 10 MiB value to the DLQ limit, replaces the outcome in place and logs the cut at warn', async () => {
    const { fitter, lines } = setup();
    const value = Buffer.alloc(10 * 1024 * 1024, 0x5a);
    const o: RecordOutcome = { kind: 'dead-letter', key: Buffer.from('job-1'), deadLetter: deadLetter('PROMPT_TOO_LARGE', 'too long', origin(value), { job_id: 'job-1', batch_id: 'b1' }) };
    const [record] = await fitter.records([o]);
    const size = (record.message.value as Buffer).length + (record.message.key as Buffer).length;
    expect(size).toBeLessThanOrEqual(LIMIT - BATCH_OVERHEAD_BYTES);
    expect(o.kind === 'dead-letter' && o.deadLetter.value_truncated).toBe(true);
    expect(await letters.decode(record.message.value as Buffer)).toMatchObject({ value_truncated: true, value_size: value.length });
    const warn = lines.find((l) => l.msg === 'dead letter too large for its topic: cut to fit');
    expect(warn).toMatchObject({ level: 40, job_id: 'job-1', batch_id: 'b1', topic: 'dlq', source_partition: 3, source_offset: 41, value_size: value.length, max_message_bytes: LIMIT, cuts: ['value'] });
  });

  it('answers a completion too large for the results topic with RESULT_TOO_LARGE, in place, so the export gets the same', async () => {
    const { fitter, lines } = setup();
    const o = completionOutcome('t'.repeat(2 * 1024 * 1024));
    const [record] = await fitter.records([o]);
    expect(record.topic).toBe('results');
    const sent = await completions.decode(record.message.value as Buffer);
    expect(sent.error?.code).toBe('RESULT_TOO_LARGE');
    expect(sent.error?.message).toMatch(/^the completion is \d+ bytes encoded, over the 1048588-byte max.message.bytes of topic "results"/);
    expect(o.kind === 'completion' && o.completion.error?.code).toBe('RESULT_TOO_LARGE');
    expect(lines.find((l) => l.level === 40)).toMatchObject({ job_id: 'job-1', batch_id: 'b1', topic: 'results', max_message_bytes: LIMIT, cut: 'error' });
  });

  it('dead-letters a completion that fits in no form (a 2 MiB job_id), cut to the DLQ limit', async () => {
    const { fitter } = setup();
    const jobId = 'j'.repeat(2 * 1024 * 1024);
    const o = completionOutcome('x', jobId);
    const [record] = await fitter.records([o]);
    expect(record.topic).toBe('dlq');
    expect(o.kind).toBe('dead-letter');
    const letter = await letters.decode(record.message.value as Buffer);
    expect(letter).toMatchObject({ error_code: 'RESULT_TOO_LARGE', key_truncated: true, source_partition: 3, source_offset: 41 });
    expect((record.message.key as Buffer).length).toBe(1024);
  });
});
