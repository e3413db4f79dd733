// A Parquet export part back to Completions: one row per Completion in the worker's columns (see the consumer's
// part-encoding), read with every standard codec so a part rewritten by another tool (e.g. zstd) reads too.
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { PARQUET_COMPRESSORS } from '../input/parquet-codecs';

/** A JSON column: objects when the file marks it JSON, text when a writer stored it as a plain string. */
const json = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : v ?? null);
const int = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const millis = (v: unknown): number => (v instanceof Date ? v.getTime() : Number(v));

/** Each row of the part as the Completion's JSON text, as a JSONL part holds it (its fields checked by the caller). */
export async function parquetPartRecords(bytes: Buffer): Promise<string[]> {
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
  const metadata = parquetMetadata(file);
  const rows = await parquetReadObjects({ file, metadata, compressors: PARQUET_COMPRESSORS });
  return rows.map((r) =>
    JSON.stringify({
      job_id: r.job_id,
      batch_id: r.batch_id,
      outputs: json(r.outputs),
      // cached_tokens: a part written before completion v2 has no such column (null).
      usage: { prompt_tokens: int(r.prompt_tokens), completion_tokens: int(r.completion_tokens), cached_tokens: int(r.cached_tokens) },
      timings: json(r.timings),
      model: r.model,
      worker_id: r.worker_id,
      metadata: json(r.metadata) ?? {},
      error: json(r.error),
      completed_at: millis(r.completed_at),
    }),
  );
}
