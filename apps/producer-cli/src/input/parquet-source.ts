// Parquet, read in row windows so a large file never sits in memory whole; INT64 values become numbers.
import { open, stat } from 'node:fs/promises';
import { parquetMetadataAsync, parquetReadObjects, type AsyncBuffer, type FileMetaData } from 'hyparquet';
import { CliError, EXIT } from '../errors';
import type { InputRow, InputSource } from './input-row';
import { PARQUET_COMPRESSORS } from './parquet-codecs';
import { INVALID_UTF8 } from './utf8-lines';

const WINDOW_ROWS = 5000;

// Strings decoded strictly: a value that is not UTF-8 becomes this marker, so its row is refused, not rewritten with U+FFFD.
class NotUtf8 {}
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function text(bytes: Uint8Array): string | NotUtf8 {
  try {
    return decoder.decode(bytes);
  } catch {
    return new NotUtf8();
  }
}

/** The value as plain JSON-like data; `bad` collects the paths of values that are not UTF-8. */
function plain(value: unknown, path: string, bad: string[]): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof NotUtf8) return void bad.push(path);
  if (value instanceof Uint8Array) return plain(text(value), path, bad);
  if (Array.isArray(value)) return value.map((v, i) => plain(v, `${path}[${i}]`, bad));
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v, path ? `${path}.${k}` : k, bad)]));
  return value;
}

// Byte ranges read on demand: hyparquet asks only for the footer and the column chunks it decodes.
async function fileBuffer(path: string): Promise<AsyncBuffer> {
  const byteLength = (await stat(path)).size;
  return {
    byteLength,
    async slice(start: number, end = byteLength): Promise<ArrayBuffer> {
      const handle = await open(path, 'r');
      try {
        const out = new Uint8Array(end - start);
        await handle.read(out, 0, out.length, start);
        return out.buffer;
      } finally {
        await handle.close();
      }
    },
  };
}

/** Rows [start, end) as objects; a page that cannot be decoded (corrupt, truncated) is a bad input, named by its rows. */
async function readWindow(path: string, file: AsyncBuffer, metadata: FileMetaData, start: number, end: number): Promise<Record<string, unknown>[]> {
  try {
    return await parquetReadObjects({ file, metadata, rowStart: start, rowEnd: end, compressors: PARQUET_COMPRESSORS, parsers: { stringFromBytes: (b: Uint8Array) => b && (text(b) as string) } });
  } catch (err) {
    throw new CliError(EXIT.INPUT, `${path}: rows ${start + 1}-${end} cannot be read: ${(err as Error).message}`, { cause: err });
  }
}

export async function parquetSource(path: string): Promise<InputSource> {
  const file = await fileBuffer(path);
  const metadata = await parquetMetadataAsync(file);
  const total = Number(metadata.num_rows);
  return {
    format: 'parquet',
    total,
    async *rows(): AsyncIterable<InputRow> {
      for (let start = 0; start < total; start += WINDOW_ROWS) {
        const rows = await readWindow(path, file, metadata, start, Math.min(start + WINDOW_ROWS, total));
        for (const [i, row] of rows.entries()) {
          const n = start + i + 1;
          const bad: string[] = [];
          const record = plain(row, '', bad) as Record<string, unknown>;
          if (bad.length) yield { ok: false, where: `${path}:row ${n}`, reason: `field '${bad[0]}' ${INVALID_UTF8}`, progress: n };
          else yield { ok: true, where: `${path}:row ${n}`, record, progress: n };
        }
      }
    },
  };
}
