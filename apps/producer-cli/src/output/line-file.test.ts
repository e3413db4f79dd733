import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LineFile } from './line-file';

const dir = mkdtempSync(join(tmpdir(), 'sluice-line-file-'));

describe('LineFile', () => {
  it('shows the file only once committed', async () => {
    const path = join(dir, 'out.jsonl');
    const file = new LineFile(path);
    await file.write('{"a":1}');
    await file.write('{"a":2}');
    expect(existsSync(path)).toBe(false);
    await file.commit();
    expect(readFileSync(path, 'utf8')).toBe('{"a":1}\n{"a":2}\n');
    expect(readdirSync(dir)).toEqual(['out.jsonl']);
  });

  it('leaves nothing behind when discarded', async () => {
    const file = new LineFile(join(dir, 'gone.jsonl'));
    await file.write('x');
    await file.discard();
    expect(readdirSync(dir)).not.toContain('gone.jsonl');
    expect(readdirSync(dir).filter((n) => n.includes('partial'))).toEqual([]);
  });

  it('names the file it cannot write', async () => {
    const file = new LineFile(join(dir, 'no-such-dir', 'out.jsonl'));
    await expect(file.commit()).rejects.toThrow(expect.objectContaining({ exitCode: 1, message: expect.stringMatching(/^cannot write .*no-such-dir\/out\.jsonl: ENOENT/) }));
  });
});
