import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { detectFormat, openInput, parseFormat } from './detect';
import type { InputRow } from './input-row';

const dir = mkdtempSync(join(tmpdir(), 'sluice-input-'));

function file(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

async function rows(path: string, format?: Parameters<typeof openInput>[1]): Promise<InputRow[]> {
  const out: InputRow[] = [];
  for await (const row of (await openInput(path, format)).rows()) out.push(row);
  return out;
}

describe('input sources', () => {
  it('reads JSONL with 1-based line numbers, skipping blank lines and reporting bad ones', async () => {
    const path = file('a.jsonl', '{"prompt":"a"}\n\n{oops\n[1,2]\n{"prompt":"b"}\n');
    const got = await rows(path);
    expect(got.map((r) => [r.where, r.ok])).toEqual([
      [`${path}:1`, true],
      [`${path}:3`, false],
      [`${path}:4`, false],
      [`${path}:5`, true],
    ]);
    expect(got[1]).toMatchObject({ reason: expect.stringContaining('not valid JSON') });
    expect(got[2]).toMatchObject({ reason: 'each line must be a JSON object' });
    expect(got[3]).toMatchObject({ record: { prompt: 'b' } });
  });

  it('reads CSV with a header, quoted multi-line cells, a BOM, and flags rows of the wrong length', async () => {
    const path = file('b.csv', '\ufeffid,prompt\n1,"two\nlines"\n2\n3,"x, y",extra\n4,ok\n');
    const got = await rows(path);
    expect(got[0]).toMatchObject({ ok: true, record: { id: '1', prompt: 'two\nlines' } });
    expect(got[1]).toMatchObject({ ok: false, where: `${path}:4`, reason: expect.stringContaining('expected 2 columns') });
    expect(got[2]).toMatchObject({ ok: false, where: `${path}:5` });
    expect(got[3]).toMatchObject({ ok: true, where: `${path}:6`, record: { id: '4', prompt: 'ok' } });
  });

  it('reads TSV by extension', async () => {
    const got = await rows(file('c.tsv', 'prompt\tmodel\nhi there\tm1\n'));
    expect(got[0]).toMatchObject({ ok: true, record: { prompt: 'hi there', model: 'm1' } });
  });

  it('reports an unclosed quote as a bad row instead of failing the read', async () => {
    const got = await rows(file('d.csv', 'prompt\n"never closed\n'));
    expect(got.at(-1)).toMatchObject({ ok: false, reason: expect.stringContaining('CSV cannot be parsed') });
  });

  it('reads Parquet in row windows, with row numbers and INT64 values as numbers', async () => {
    const n = 12_345;
    const buffer = parquetWriteBuffer({
      columnData: [
        { name: 'prompt', data: Array.from({ length: n }, (_, i) => `p${i}`), type: 'STRING' },
        { name: 'max_tokens', data: BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 50) + 1n), type: 'INT64' },
        { name: 'temperature', data: Array.from({ length: n }, () => 0.5), type: 'DOUBLE' },
      ],
    });
    const path = file('e.parquet', Buffer.from(buffer));
    const source = await openInput(path);
    expect(source.format).toBe('parquet');
    expect(source.total).toBe(n);
    const got = await rows(path);
    expect(got).toHaveLength(n);
    expect(got[0]).toMatchObject({ ok: true, where: `${path}:row 1`, record: { prompt: 'p0', max_tokens: 1, temperature: 0.5 } });
    expect(got[n - 1]).toMatchObject({ where: `${path}:row ${n}`, record: { prompt: `p${n - 1}`, max_tokens: ((n - 1) % 50) + 1 } });
  });

  it('detects formats by extension, then by content', () => {
    expect(detectFormat(file('f.jsonl', '{"prompt":"x"}\n'))).toBe('jsonl');
    expect(detectFormat(file('g.jsonl', '{"custom_id":"r1","method":"POST","url":"/v1/chat/completions","body":{}}\n'))).toBe('openai');
    expect(detectFormat(file('h.data', '\n{"prompt":"x"}\n'))).toBe('jsonl');
    expect(detectFormat(file('i.data', 'prompt,model\nx,y\n'))).toBe('csv');
    expect(detectFormat(file('j.bin', Buffer.concat([Buffer.from('PAR1'), Buffer.alloc(8)])))).toBe('parquet');
  });

  it('names a missing file and an unknown --format', async () => {
    await expect(openInput(join(dir, 'missing.jsonl'))).rejects.toThrow(/cannot open input file .*missing\.jsonl: ENOENT/);
    expect(() => parseFormat('xml')).toThrow('--format must be one of jsonl, csv, parquet, openai, got "xml"');
    await expect(openInput(file('k.parquet', 'not parquet at all'), 'parquet')).rejects.toThrow(/is not a readable Parquet file/);
  });

  it('drops a UTF-8 byte order mark at the start of a JSONL, OpenAI or CSV file', async () => {
    const bom = '\ufeff';
    expect(await rows(file('bom.jsonl', `${bom}{"prompt":"a"}\n{"prompt":"b"}\n`))).toMatchObject([{ ok: true, record: { prompt: 'a' } }, { ok: true, record: { prompt: 'b' } }]);
    const openai = file('bom-openai.data', `${bom}{"custom_id":"r1","method":"POST","url":"/v1/completions","body":{"prompt":"x"}}\n`);
    expect(detectFormat(openai)).toBe('openai');
    expect(await rows(file('bom.csv', `${bom}prompt,n\nhi,1\n`))).toMatchObject([{ ok: true, where: expect.stringMatching(/bom\.csv:2$/), record: { prompt: 'hi', n: '1' } }]);
    // Only the file's first character: a U+FEFF later in the file is text.
    expect(await rows(file('bom2.jsonl', `{"prompt":"a"}\n{"prompt":"${bom}b"}\n`))).toMatchObject([{ ok: true }, { ok: true, record: { prompt: `${bom}b` } }]);
  });

  it('refuses bytes that are not UTF-8 with the file and line, never replacing them with U+FFFD', async () => {
    const bad = Buffer.concat([Buffer.from('{"prompt":"ok"}\n{"prompt":"a'), Buffer.from([0xff, 0xfe]), Buffer.from('"}\r\n{"prompt":"b"}\n')]);
    const path = file('bad.jsonl', bad);
    expect(await rows(path)).toEqual([
      expect.objectContaining({ ok: true, where: `${path}:1` }),
      expect.objectContaining({ ok: false, where: `${path}:2`, reason: expect.stringContaining('is not valid UTF-8') }),
      expect.objectContaining({ ok: true, where: `${path}:3`, record: { prompt: 'b' } }),
    ]);
    // An encoded surrogate (ED A0 80) is not UTF-8 either.
    const csv = file('bad.csv', Buffer.concat([Buffer.from('prompt\nfine\n"x'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"\nlater\n')]));
    expect(await rows(csv)).toEqual([
      expect.objectContaining({ ok: true, record: { prompt: 'fine' } }),
      expect.objectContaining({ ok: false, where: `${csv}:3`, reason: expect.stringContaining('is not valid UTF-8') }),
    ]);
  });

  it('refuses a Parquet string that is not UTF-8, naming the row and field', async () => {
    const buffer = parquetWriteBuffer({
      columnData: [{ name: 'prompt', data: [Buffer.from('fine'), Buffer.from([0x61, 0xc3, 0x28]), Buffer.from('also fine')], type: 'BYTE_ARRAY' }],
    });
    const path = file('bad.parquet', Buffer.from(buffer));
    expect(await rows(path)).toEqual([
      expect.objectContaining({ ok: true, record: { prompt: 'fine' } }),
      expect.objectContaining({ ok: false, where: `${path}:row 2`, reason: "field 'prompt' is not valid UTF-8 (the file must be UTF-8 encoded)" }),
      expect.objectContaining({ ok: true, record: { prompt: 'also fine' } }),
    ]);
  });

  it('refuses a directory and an empty file in one line naming the path', async () => {
    await expect(openInput(dir)).rejects.toMatchObject({ exitCode: 1, message: `${dir} is a directory, not an input file` });
    await expect(openInput(dir, 'parquet')).rejects.toMatchObject({ exitCode: 1, message: `${dir} is a directory, not an input file` });
    const empty = file('empty.jsonl', '');
    await expect(openInput(empty)).rejects.toMatchObject({ exitCode: 2, message: `${empty} is empty (0 bytes): there is nothing to produce` });
  });
});
