import { SchemaError } from '@sluice/schema';
import { BadRowError, CliError, EXIT } from '../errors';
import type { MappingOptions } from '../produce/row-to-job';
import type { InputSource } from './input-row';
import { BadRows, jobRows } from './job-rows';

const mapping: MappingOptions = {
  format: 'jsonl', batchId: 'b1', promptField: 'prompt', messagesField: 'messages', modelField: 'model', paramsField: 'sampling', metadataFields: [],
  defaults: { sampling: {} },
};

const oneRow: InputSource = {
  format: 'jsonl',
  total: 1,
  async *rows() {
    yield { ok: true, where: 'in.jsonl:1', record: { prompt: 'hi' }, progress: 1 };
  },
};

/** What jobRows does with one row whose prepare step throws `err`. */
async function outcome(err: Error): Promise<unknown> {
  try {
    for await (const _ of jobRows(oneRow, mapping, new BadRows(false, 'b1'), () => Promise.reject(err))) return 'yielded';
  } catch (e) {
    return e;
  }
  return 'nothing';
}

describe('jobRows on a failing prepare step', () => {
  it('ends the run as a service failure when the error says a retry may cure it (a registry down)', async () => {
    expect(await outcome(new SchemaError('REGISTRY_ERROR', 'registry down'))).toMatchObject({ exitCode: EXIT.SERVICE, code: 'SERVICE', retriable: true, message: 'registry down' });
  });

  it('blames the row when it does not, whatever the code: the flag decides', async () => {
    const row = await outcome(Object.defineProperty(new SchemaError('REGISTRY_ERROR', 'odd'), 'retriable', { value: false }));
    expect(row).toBeInstanceOf(BadRowError);
    expect(row).toMatchObject({ exitCode: EXIT.INPUT, code: 'INPUT', retriable: false, message: 'in.jsonl:1: odd' });
    const retried = await outcome(Object.defineProperty(new SchemaError('INVALID_FIELD', 'bad'), 'retriable', { value: true }));
    expect(retried).toMatchObject({ exitCode: EXIT.SERVICE });
  });
});

describe('CliError', () => {
  it('names its exit code as its stable code, and calls a service failure, an incomplete batch and an interruption retriable', () => {
    const all = Object.values(EXIT).filter((c) => c !== EXIT.OK).map((c) => new CliError(c, 'm'));
    expect(all.map((e) => [e.code, e.retriable])).toEqual([['INPUT', false], ['USAGE', false], ['SERVICE', true], ['INCOMPLETE', true], ['ENGINE', false], ['INTERRUPTED', true]]);
  });
});
