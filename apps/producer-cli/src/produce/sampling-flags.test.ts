import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { addSamplingFlags, samplingFromFlags } from './sampling-flags';
import { SAMPLING_FIELDS } from './sampling-fields';

function parse(args: string[]): Record<string, unknown> {
  const cmd = addSamplingFlags(new Command('t').exitOverride());
  cmd.parse(args, { from: 'user' });
  return cmd.opts();
}

describe('sampling flags', () => {
  it('has one flag per sampling field of the schema', () => {
    const cmd = addSamplingFlags(new Command('t'));
    expect(cmd.options.map((o) => o.long)).toEqual(SAMPLING_FIELDS.map((f) => `--${f.name.replace(/_/g, '-')}`));
    expect(SAMPLING_FIELDS.map((f) => f.name)).toContain('repetition_penalty');
  });

  it('converts flag text to typed defaults', () => {
    const params = samplingFromFlags(parse(['--temperature', '0.5', '--top-k', '40', '--stop', 'a', '--stop', 'b', '--stop-token-ids', '1,2', '--ignore-eos', 'true', '--seed', '7']));
    expect(params).toEqual({ temperature: 0.5, top_k: 40, stop: ['a', 'b'], stop_token_ids: [1, 2], ignore_eos: true, seed: 7 });
    expect(samplingFromFlags(parse(['--use-beam-search', 'true', '--temperature', '0', '--best-of', '3', '--early-stopping', 'true']))).toEqual({ use_beam_search: true, temperature: 0, best_of: 3, early_stopping: true });
  });

  it('takes structured output: a regex, repeated choices, a schema as text or from a file (@path)', () => {
    expect(samplingFromFlags(parse(['--guided-regex', '[0-9]+']))).toEqual({ guided_regex: '[0-9]+' });
    expect(samplingFromFlags(parse(['--guided-choice', 'yes', '--guided-choice', 'no']))).toEqual({ guided_choice: ['yes', 'no'] });
    expect(samplingFromFlags(parse(['--guided-json', '{"type":"object"}']))).toEqual({ guided_json: '{"type":"object"}' });
    const file = join(mkdtempSync(join(tmpdir(), 'sluice-flags-')), 'schema.json');
    writeFileSync(file, '{"type": "array"}');
    expect(samplingFromFlags(parse(['--guided-json', `@${file}`]))).toEqual({ guided_json: '{"type": "array"}' });
    expect(() => samplingFromFlags(parse(['--guided-json', '@/nonexistent/schema.json']))).toThrow('--guided-json: cannot read the schema file /nonexistent/schema.json (ENOENT)');
    expect(() => samplingFromFlags(parse(['--guided-regex', 'a', '--guided-json-object', 'true']))).toThrow(/--guided-json-object.*only one structured-output constraint/);
  });

  it.each([
    [['--temperature', 'warm'], '--temperature: expected a number, got "warm"'],
    [['--max-tokens', '1.5'], '--max-tokens: expected an integer, got "1.5"'],
    [['--top-p', '0'], '--top-p must be > 0, got 0'],
    [['--n', '3', '--best-of', '2'], '--best-of must be >= n (3), got 2'],
    [['--min-tokens', '9', '--max-tokens', '4'], '--min-tokens must be <= max_tokens (4), got 9'],
    [['--stop', ''], '--stop must not be empty'],
    [['--use-beam-search', 'maybe'], '--use-beam-search: expected true or false, got "maybe"'],
    // The engine's own rules, as a worker would apply them.
    [['--use-beam-search', 'true', '--n', '2', '--temperature', '0'], '--n: beam search returns bestOf beams; set bestOf (the beam width), not n (got 2)'],
    [['--use-beam-search', 'true', '--temperature', '0', '--early-stopping', 'never'], '--early-stopping: "never" is not supported by this engine (true or false are)'],
  ])('refuses %j with %s', (args, message) => {
    expect(() => samplingFromFlags(parse(args))).toThrow(expect.objectContaining({ exitCode: 2, message }));
  });
});
