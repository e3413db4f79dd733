import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { batchExportPrefix, exportManifestKey, exportPartKey, METADATA_SEQ, recordToJson, type Completion, type ExportManifest } from '@sluice/schema';
import { METADATA_KIND } from '../produce/row-to-job';
import { readExport } from './export-source';
import { inInputOrder } from './input-order';
import { openAiOutputLine } from './openai-output';

function completion(jobId: string, seq: number | undefined, error: Completion['error'] = null, kind = 'chat'): Completion {
  const metadata: Record<string, string> = { [METADATA_KIND]: kind };
  if (seq !== undefined) metadata[METADATA_SEQ] = String(seq);
  return {
    job_id: jobId, batch_id: 'b1', outputs: error ? [] : [{ index: 0, text: `out ${jobId}`, finish_reason: 'stop' }],
    usage: { prompt_tokens: 3, completion_tokens: 2 }, timings: { queued_ms: 1, first_token_ms: 2, total_ms: 3 },
    model: 'tiny', worker_id: 'w', metadata, error, completed_at: 1_700_000_000_000,
  };
}

describe('input order', () => {
  it('sorts by sluice.seq numerically, then jobs without it by job_id', () => {
    const got = inInputOrder([completion('z', undefined), completion('c', 10), completion('a', 2), completion('b', undefined), completion('d', 9)]);
    expect(got.map((c) => c.job_id)).toEqual(['a', 'd', 'c', 'b', 'z']);
  });
});

describe('OpenAI output lines', () => {
  it('writes chat and text completions as Batch API responses', () => {
    expect(openAiOutputLine(completion('j1', 0))).toEqual({
      id: 'batch_req_j1', custom_id: 'j1', error: null,
      response: {
        status_code: 200, request_id: 'j1',
        body: {
          id: 'chatcmpl-j1', object: 'chat.completion', created: 1_700_000_000, model: 'tiny',
          choices: [{ index: 0, message: { role: 'assistant', content: 'out j1' }, logprobs: null, finish_reason: 'stop' }],
          usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
        },
      },
    });
    const text = openAiOutputLine(completion('j2', 1, null, 'text')) as { response: { body: { object: string; choices: unknown[] } } };
    expect(text.response.body.object).toBe('text_completion');
    expect(text.response.body.choices).toEqual([{ index: 0, text: 'out j2', logprobs: null, finish_reason: 'stop' }]);
  });

  it('gives logprobs in OpenAI\'s chat and completions shapes, token text from the tokenizer', () => {
    const tokenBytes = (id: number) => Uint8Array.from(Buffer.from(['Hi', ' th', 'é'][id]));
    const logprobs = [{ token: 0, logprob: -0.5, top: [{ token: 0, logprob: -0.5 }, { token: 2, logprob: -2 }] }, { token: 1, logprob: -1, top: [{ token: 1, logprob: -1 }] }];
    const withLogprobs = (kind: string) => ({ ...completion('j4', 3, null, kind), outputs: [{ index: 0, text: 'Hi th', finish_reason: 'stop' as const, logprobs }] });
    const choice = (line: Record<string, unknown>) => (line as { response: { body: { choices: Array<{ logprobs: unknown }> } } }).response.body.choices[0].logprobs;
    expect(choice(openAiOutputLine(withLogprobs('chat'), tokenBytes))).toEqual({
      content: [
        { token: 'Hi', logprob: -0.5, bytes: [72, 105], top_logprobs: [{ token: 'Hi', logprob: -0.5, bytes: [72, 105] }, { token: 'é', logprob: -2, bytes: [0xc3, 0xa9] }] },
        { token: ' th', logprob: -1, bytes: [32, 116, 104], top_logprobs: [{ token: ' th', logprob: -1, bytes: [32, 116, 104] }] },
      ],
    });
    expect(choice(openAiOutputLine(withLogprobs('text'), tokenBytes))).toEqual({
      tokens: ['Hi', ' th'], token_logprobs: [-0.5, -1], top_logprobs: [{ Hi: -0.5, 'é': -2 }, { ' th': -1 }], text_offset: [0, 2],
    });
    // Without a tokenizer the ids cannot become OpenAI's token text.
    expect(choice(openAiOutputLine(withLogprobs('chat')))).toBeNull();
  });

  it('gives a token holding part of a character its true bytes, its text escaped, and offsets in whole characters', () => {
    // '🙂' is 4 bytes, split over two tokens; then 'ok'.
    const pieces = [Uint8Array.of(0xf0, 0x9f), Uint8Array.of(0x99, 0x82), Uint8Array.from(Buffer.from('ok'))];
    const logprobs = pieces.map((_, i) => ({ token: i, logprob: -i, top: [{ token: i, logprob: -i }] }));
    const c = { ...completion('j5', 3, null, 'text'), outputs: [{ index: 0, text: '🙂ok', finish_reason: 'stop' as const, logprobs }] };
    const body = (line: Record<string, unknown>) => (line as { response: { body: { choices: Array<{ logprobs: Record<string, unknown> }> } } }).response.body.choices[0].logprobs;
    expect(body(openAiOutputLine(c, (id) => pieces[id]))).toEqual({
      tokens: ['bytes:\\xf0\\x9f', 'bytes:\\x99\\x82', 'ok'], token_logprobs: [-0, -1, -2],
      top_logprobs: [{ 'bytes:\\xf0\\x9f': -0 }, { 'bytes:\\x99\\x82': -1 }, { ok: -2 }],
      text_offset: [0, 0, 2],
    });
    const chat = body(openAiOutputLine({ ...c, metadata: { ...c.metadata, 'sluice.kind': 'chat' } }, (id) => pieces[id])) as { content: Array<{ token: string; bytes: number[] }> };
    expect(chat.content.map((e) => e.bytes)).toEqual([[0xf0, 0x9f], [0x99, 0x82], [111, 107]]);
    expect(Buffer.from(chat.content.flatMap((e) => e.bytes)).toString('utf8')).toBe('🙂ok');
  });

  it('writes an error completion as an error line', () => {
    expect(openAiOutputLine(completion('j3', 2, { code: 'DEADLINE_EXCEEDED', message: 'too late' }))).toEqual({
      id: 'batch_req_j3', custom_id: 'j3', response: null, error: { code: 'DEADLINE_EXCEEDED', message: 'too late' },
    });
  });
});

describe('reading a file export', () => {
  function exportDir(parts: Completion[][], manifest: boolean, corrupt = false): string {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-export-'));
    const listed: ExportManifest['parts'] = [];
    parts.forEach((records, i) => {
      const key = exportPartKey('results', 'b1', { partition: i, firstOffset: 0, lastOffset: records.length - 1, format: 'jsonl' });
      const bytes = Buffer.from(records.map((r) => `${recordToJson(r)}\n`).join(''));
      mkdirSync(dirname(join(dir, key)), { recursive: true });
      writeFileSync(join(dir, key), corrupt && i === 0 ? Buffer.concat([bytes, Buffer.from('\n')]) : bytes);
      listed.push({ key, partition: i, first_offset: 0, last_offset: records.length - 1, records: records.length, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    });
    if (manifest) {
      const m: ExportManifest = { batch_id: 'b1', format: 'jsonl', completions: 3, errors: 1, parts: listed, updated_at: new Date().toISOString() };
      writeFileSync(join(dir, exportManifestKey('results', 'b1')), JSON.stringify(m));
    }
    return dir;
  }

  /** Writes a part the manifest does not list, as an attempt that never committed leaves behind. */
  function orphanPart(dir: string, records: Completion[], part = { partition: 0, firstOffset: 0, lastOffset: 9, format: 'jsonl' as const }): string {
    const key = exportPartKey('', 'b1', part);
    writeFileSync(join(dir, 'results', key), records.map((r) => `${recordToJson(r)}\n`).join(''));
    return key;
  }

  it('reads every part, one completion per job with a success over an error, and the manifest', async () => {
    const failedFirst = completion('j2', 1, { code: 'ENGINE_ERROR', message: 'x' });
    const dir = exportDir([[completion('j1', 0), failedFirst], [completion('j2', 1), completion('j3', 2), completion('j4', 3, { code: 'E', message: 'm' })]], true);
    const read = await readExport(`file://${dir}/results`, 'b1');
    expect(read.parts).toBe(2);
    expect(read.manifest).toMatchObject({ completions: 3, errors: 1 });
    expect([...read.completions.keys()].sort()).toEqual(['j1', 'j2', 'j3', 'j4']);
    expect(read.completions.get('j2')?.error).toBeNull();
    expect(inInputOrder(read.completions.values())).toMatchObject([completion('j1', 0), completion('j2', 1), completion('j3', 2), completion('j4', 3, { code: 'E', message: 'm' })]);
  });

  it('reads only the parts the manifest lists: an orphan part with another completion for a listed job is counted, not read', async () => {
    const dir = exportDir([[completion('j1', 0), completion('j2', 1)]], true);
    const zombie = { ...completion('j1', 0), outputs: [{ index: 0, text: 'sampled by an attempt that never committed', finish_reason: 'stop' as const }] };
    const orphan = orphanPart(dir, [zombie, completion('j9', 8)]);
    const read = await readExport(`file://${dir}/results`, 'b1');
    expect(read.parts).toBe(1);
    expect(read.orphans).toEqual([orphan.slice(orphan.lastIndexOf('/') + 1)]);
    expect([...read.completions.keys()].sort()).toEqual(['j1', 'j2']);
    expect(read.completions.get('j1')?.outputs[0].text).toBe('out j1');
  });

  it('without a manifest reads every part, and orphans are not counted', async () => {
    const dir = exportDir([[completion('j1', 0)]], false);
    orphanPart(dir, [completion('j9', 8)]);
    const read = await readExport(`file://${dir}/results`, 'b1');
    expect(read).toMatchObject({ manifest: null, parts: 2, orphans: [] });
    expect([...read.completions.keys()].sort()).toEqual(['j1', 'j9']);
  });

  it('refuses a part the manifest lists that is missing', async () => {
    const dir = exportDir([[completion('j1', 0)]], true);
    const manifestPath = join(dir, exportManifestKey('results', 'b1'));
    const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as ExportManifest;
    const missing = exportPartKey('results', 'b1', { partition: 7, firstOffset: 0, lastOffset: 0, format: 'jsonl' });
    writeFileSync(manifestPath, JSON.stringify({ ...m, parts: [...m.parts, { ...m.parts[0], key: missing, partition: 7 }] }));
    await expect(readExport(`file://${dir}/results`, 'b1')).rejects.toMatchObject({ exitCode: 3, message: expect.stringContaining(`lists ${missing}, which is missing`) });
  });

  it('refuses a part whose checksum differs from the manifest', async () => {
    const dir = exportDir([[completion('j1', 0)]], true, true);
    await expect(readExport(`file://${dir}/results`, 'b1')).rejects.toMatchObject({ exitCode: 3, message: expect.stringContaining('SHA-256 differs from manifest.json') });
  });

  it('reads parts without a manifest and says when there are none', async () => {
    const dir = exportDir([[completion('j1', 0)]], false);
    expect((await readExport(`${dir}/results`, 'b1')).manifest).toBeNull();
    await expect(readExport(`file://${dir}/results`, 'other')).rejects.toMatchObject({ exitCode: 4, message: expect.stringContaining(`no exported parts for batch other under file://${dir}/results/${batchExportPrefix('', 'other')}`) });
    await expect(readExport('gs://bucket/x', 'b1')).rejects.toMatchObject({ exitCode: 2 });
  });

  it('keeps one completion per job when a re-run left each job in two committed parts, the earlier part first', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-export-'));
    const runs = [
      { offsets: [4, 5], records: [completion('j1', 0, { code: 'ENGINE_FAILED', message: 'x' }), completion('j2', 1)] },
      { offsets: [0, 1], records: [completion('j1', 0, { code: 'ENGINE_FAILED', message: 'y' }), { ...completion('j2', 1), outputs: [{ index: 0, text: 'first run', finish_reason: 'stop' as const }] }] },
      { offsets: [8, 9], records: [{ ...completion('j1', 0), outputs: [{ index: 0, text: 'rerun', finish_reason: 'stop' as const }] }, completion('j2', 1)] },
    ];
    const parts: ExportManifest['parts'] = runs.map(({ offsets: [first, last], records }) => {
      const key = exportPartKey('results', 'b1', { partition: 0, firstOffset: first, lastOffset: last, format: 'jsonl' });
      const bytes = Buffer.from(records.map((r) => `${recordToJson(r)}\n`).join(''));
      mkdirSync(dirname(join(dir, key)), { recursive: true });
      writeFileSync(join(dir, key), bytes);
      return { key, partition: 0, first_offset: first, last_offset: last, records: 2, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
    });
    writeFileSync(join(dir, exportManifestKey('results', 'b1')), JSON.stringify({ batch_id: 'b1', format: 'jsonl', completions: 4, errors: 2, parts, updated_at: '' }));

    const read = await readExport(`file://${dir}/results`, 'b1');
    expect(read).toMatchObject({ parts: 3, records: 6 });
    expect(read.completions.get('j1')?.outputs[0].text).toBe('rerun');
    expect(read.completions.get('j2')?.outputs[0].text).toBe('first run');

    // collect itself (which also reads the batch's job count and dead letters from Kafka) is tested in test/collect.test.ts.
    expect(inInputOrder(read.completions.values()).map((c) => c.job_id)).toEqual(['j1', 'j2']);
  });
});
