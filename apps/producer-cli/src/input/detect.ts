// Picks the reader for a file: --format wins, then the extension, then the first bytes.
import { closeSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { extname } from 'node:path';
import { CliError, EXIT } from '../errors';
import { csvSource } from './csv-source';
import { INPUT_FORMATS, type InputFormat, type InputSource } from './input-row';
import { jsonlSource } from './jsonl-source';
import { parquetSource } from './parquet-source';

const HEAD_BYTES = 64 * 1024;

const cannotOpen = (path: string, err: unknown) => new CliError(EXIT.INPUT, `cannot open input file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });

/** Refuses, in one line naming it, an input path that is missing, not a file, or empty (a batch of nothing). */
export function checkInputFile(path: string): void {
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch (err) {
    throw cannotOpen(path, err);
  }
  if (stats.isDirectory()) throw new CliError(EXIT.INPUT, `${path} is a directory, not an input file`);
  if (stats.isFile() && stats.size === 0) throw new CliError(EXIT.USAGE, `${path} is empty (0 bytes): there is nothing to produce`);
}

function head(path: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw cannotOpen(path, err);
  }
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    return buf.subarray(0, readSync(fd, buf, 0, HEAD_BYTES, 0));
  } finally {
    closeSync(fd);
  }
}

/** An OpenAI Batch API input line has custom_id, url and body; any other JSON line is plain JSONL. */
function looksLikeOpenAiBatch(text: string): boolean {
  const first = text.split('\n').find((l) => l.trim() !== '');
  if (!first) return false;
  try {
    const row = JSON.parse(first) as Record<string, unknown>;
    return typeof row.custom_id === 'string' && typeof row.url === 'string' && typeof row.body === 'object';
  } catch {
    return false;
  }
}

export function detectFormat(path: string): InputFormat {
  const bytes = head(path);
  const ext = extname(path).toLowerCase();
  if (ext === '.parquet' || bytes.subarray(0, 4).toString('latin1') === 'PAR1') return 'parquet';
  if (ext === '.csv' || ext === '.tsv') return 'csv';
  const text = bytes.toString('utf8').replace(/^\ufeff/, '');
  if (['.jsonl', '.ndjson', '.json'].includes(ext) || text.trimStart().startsWith('{')) return looksLikeOpenAiBatch(text) ? 'openai' : 'jsonl';
  return 'csv';
}

export function parseFormat(value: string): InputFormat {
  if (!(INPUT_FORMATS as readonly string[]).includes(value)) throw new CliError(EXIT.USAGE, `--format must be one of ${INPUT_FORMATS.join(', ')}, got "${value}"`);
  return value as InputFormat;
}

/** The reader for `path`; every command opens its input here, so every one refuses a bad path alike. */
export async function openInput(path: string, given?: InputFormat): Promise<InputSource> {
  checkInputFile(path);
  const format = given ?? detectFormat(path);
  switch (format) {
    case 'parquet':
      try {
        return await parquetSource(path);
      } catch (err) {
        throw new CliError(EXIT.INPUT, `${path} is not a readable Parquet file: ${(err as Error).message}`, { cause: err });
      }
    case 'csv':
      return csvSource(path);
    case 'jsonl':
    case 'openai':
      return jsonlSource(path, format);
  }
}
