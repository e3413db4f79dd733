// The example files the README points to map to jobs carrying the constraint each line asks for.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rowToJob, type MappingOptions } from './row-to-job';

const dir = join(__dirname, '..', '..', 'examples');
const lines = (file: string) => readFileSync(join(dir, file), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
const options = (format: MappingOptions['format']): MappingOptions => ({
  format, batchId: 'b1', promptField: 'prompt', messagesField: 'messages', modelField: 'model', paramsField: 'sampling', metadataFields: [], defaults: {},
});
const guided = (sampling: Record<string, unknown> | null) =>
  Object.fromEntries(Object.entries(sampling ?? {}).filter(([k, v]) => k.startsWith('guided_') && v !== null && v !== undefined));

describe('examples/', () => {
  it('structured-output.openai.jsonl: response_format json_schema and json_object become guided_json and guided_json_object', () => {
    const jobs = lines('structured-output.openai.jsonl').map((row, i) => rowToJob(row, i, options('openai')));
    expect(jobs.map((j) => j.job_id)).toEqual(['city-1', 'sentiment-1', 'free-json-1', 'plain-1']);
    expect(JSON.parse(guided(jobs[0].sampling as Record<string, unknown>).guided_json as string)).toMatchObject({ required: ['city', 'country'] });
    expect(JSON.parse(guided(jobs[1].sampling as Record<string, unknown>).guided_json as string).properties.stars).toEqual({ type: 'integer', minimum: 1, maximum: 5 });
    expect(guided(jobs[2].sampling as Record<string, unknown>)).toEqual({ guided_json_object: true });
    expect(guided(jobs[3].sampling as Record<string, unknown>)).toEqual({});
  });

  it('structured-output.jsonl: native rows carry choice, regex, schema and grammar', () => {
    const jobs = lines('structured-output.jsonl').map((row, i) => rowToJob(row, i, options('jsonl')));
    expect(jobs.map((j) => Object.keys(guided(j.sampling as Record<string, unknown>)))).toEqual([['guided_choice'], ['guided_regex'], ['guided_json'], ['guided_grammar']]);
    expect(guided(jobs[0].sampling as Record<string, unknown>).guided_choice).toEqual(['bug', 'question', 'feature request']);
  });
});
