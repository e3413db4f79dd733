// Parquet, read in row windows so a large file never sits in memory whole; INT64 values become numbers.
import { open, stat } from 'node:fs/promises';
import { parquetMetadataAsync, parquetReadObjects, type AsyncBuffer } from 'hyparquet';
import type { InputRow, InputSource } from './input-row';

const WINDOW_ROWS = 5000;

function plain(value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (Array.isArray(value)) return value.map(plain);
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
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

export async function parquetSource(path: string): Promise<InputSource> {
  const file = await fileBuffer(path);
  const metadata = await parquetMetadataAsync(file);
  const total = Number(metadata.num_rows);
  return {
    format: 'parquet',
    total,
    async *rows(): AsyncIterable<InputRow> {
      for (let start = 0; start < total; start += WINDOW_ROWS) {
        const rows = await parquetReadObjects({ file, metadata, rowStart: start, rowEnd: Math.min(start + WINDOW_ROWS, total) });
        for (const [i, row] of rows.entries()) {
          const n = start + i + 1;
          yield { ok: true, where: `${path}:row ${n}`, record: plain(row) as Record<string, unknown>, progress: n };
        }
      }
    },
  };
}
