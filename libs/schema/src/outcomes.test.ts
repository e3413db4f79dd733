// The outcome table and its README copy, and the model check both apps use.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeadLetterCode, modelMismatch, OUTCOMES } from './outcomes';

describe('OUTCOMES', () => {
  it('is documented once, in the README, row for row', () => {
    const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Outcome codes'), readme.indexOf('## Export layout'));
    const rows = section.split('\n').filter((l) => /^\| `[A-Z0-9_]+` \|/.test(l));
    expect(rows).toEqual(Object.entries(OUTCOMES).map(([code, o]) => `| \`${code}\` | ${o.record} | ${o.retriable ? 'yes' : 'no'} | ${o.meaning} |`));
  });

  it('says which codes are dead letters', () => {
    expect(isDeadLetterCode('PROMPT_TOO_LARGE')).toBe(true);
    expect(isDeadLetterCode('ENGINE_REJECTED')).toBe(false);
  });
});

describe('modelMismatch', () => {
  it('lets a job naming no model or a served name run, and names both sides otherwise', () => {
    expect(modelMismatch(null, ['tiny'])).toBeUndefined();
    expect(modelMismatch('', ['tiny'])).toBeUndefined();
    expect(modelMismatch('alias', ['tiny', 'alias'])).toBeUndefined();
    expect(modelMismatch('gpt-4o-mini', ['tiny', 'alias'])).toBe('job asks for model "gpt-4o-mini", this deployment serves "tiny", "alias" (--served-model-name adds a name)');
  });
});
