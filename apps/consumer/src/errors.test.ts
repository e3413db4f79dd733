import { SchemaError } from '@sluice/schema';
import { CommitNoteError } from './export/commit-note';
import { ConfigError, ConsumerError, EngineError, ExportError, InvalidJobError, isRetriable, OffsetError } from './errors';
import { DecodeThreadError } from './jobs/decode-thread';

describe('the consumer error root', () => {
  const all: ConsumerError[] = [
    new ConfigError('--max-in-flight (SLUICE_MAX_IN_FLIGHT)', 'must be >= 1'),
    new EngineError('ABORTED', 'aborted'), new EngineError('SHUT_DOWN', 'closed'), new EngineError('REJECTED', 'no'), new EngineError('ENGINE_FAILED', 'broke'),
    new InvalidJobError('INVALID_SAMPLING', 'bad'),
    new ExportError('UPLOAD_FAILED', 'gave up'), new ExportError('MANIFEST_CONFLICT', 'gave up'), new ExportError('BAD_TARGET', 'escapes'),
    new OffsetError('OUT_OF_ORDER', 'bug'), new OffsetError('UNKNOWN_OFFSET', 'bug'), new OffsetError('ALREADY_DONE', 'bug'),
    new DecodeThreadError('DECODE_UNAVAILABLE', 'closed'), new DecodeThreadError('DECODE_TIMEOUT', 'slow'), new DecodeThreadError('DECODE_CRASHED', 'died'),
    new CommitNoteError('BAD_NOTE', 'bad'), new CommitNoteError('NOTE_TOO_LARGE', 'big'), new CommitNoteError('PART_MISSING', 'gone'),
  ];

  it('is the class of every consumer error, each keeping its name and code', () => {
    for (const err of all) expect(err).toBeInstanceOf(ConsumerError);
    expect(all.map((e) => `${e.name}:${e.code}`)).toContain('ConfigError:INVALID_CONFIG');
    expect(all.map((e) => `${e.name}:${e.code}`)).toContain('InvalidJobError:INVALID_JOB');
  });

  it('calls retriable what is fetched again rather than finished: an abort, a shut-down engine, no decode thread', () => {
    expect(all.filter((e) => e.retriable).map((e) => e.code)).toEqual(['ABORTED', 'SHUT_DOWN', 'DECODE_UNAVAILABLE']);
  });

  it('isRetriable reads the flag of the consumer and schema errors only', () => {
    expect(isRetriable(new EngineError('ABORTED', 'aborted'))).toBe(true);
    expect(isRetriable(new SchemaError('REGISTRY_ERROR', 'down'))).toBe(true);
    expect(isRetriable(new SchemaError('BAD_AVRO', 'cut short'))).toBe(false);
    expect(isRetriable(Object.defineProperty(new EngineError('REJECTED', 'no'), 'retriable', { value: true }))).toBe(true);
    expect(isRetriable(Object.assign(new Error('foreign'), { retriable: true }))).toBe(false);
    expect(isRetriable(undefined)).toBe(false);
  });
});
