import { recordToJson, type ExportFormat } from '@sluice/schema';
import type { Completion } from '../jobs/schema';

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  jsonl: 'application/x-ndjson',
  parquet: 'application/vnd.apache.parquet',
};

interface ColumnSource {
  name: string;
  data: unknown[];
  type: string;
}

type ParquetWriteBuffer = (o: { columnData: ColumnSource[] }) => ArrayBuffer;

// hyparquet-writer is an ES module: loaded on first use (CommonJS output turns this into Node 20's require(esm)).
async function parquetWriter(): Promise<ParquetWriteBuffer> {
  return ((await import('hyparquet-writer')) as unknown as { parquetWriteBuffer: ParquetWriteBuffer }).parquetWriteBuffer;
}

const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));

/** One part's bytes: JSON lines of Completions (recordToJson, as the export layout says), or a Parquet file with one row per Completion. */
export async function encodePart(completions: Completion[], format: ExportFormat): Promise<Buffer> {
  if (format === 'jsonl') return Buffer.from(completions.map((c) => recordToJson(c)).join('\n') + '\n');
  const col = (name: string, type: string, f: (c: Completion) => unknown): ColumnSource => ({ name, type, data: completions.map(f) });
  const buf = (await parquetWriter())({
    columnData: [
      col('job_id', 'STRING', (c) => c.job_id),
      col('batch_id', 'STRING', (c) => c.batch_id),
      col('text', 'STRING', (c) => c.outputs[0]?.text ?? null),
      col('outputs', 'JSON', (c) => json(c.outputs)),
      col('prompt_tokens', 'INT32', (c) => c.usage.prompt_tokens),
      col('completion_tokens', 'INT32', (c) => c.usage.completion_tokens),
      col('cached_tokens', 'INT32', (c) => c.usage.cached_tokens ?? null),
      col('timings', 'JSON', (c) => json(c.timings)),
      col('model', 'STRING', (c) => c.model),
      col('worker_id', 'STRING', (c) => c.worker_id),
      col('metadata', 'JSON', (c) => json(c.metadata)),
      col('error', 'JSON', (c) => json(c.error)),
      col('completed_at', 'TIMESTAMP', (c) => new Date(c.completed_at)),
    ],
  });
  return Buffer.from(buf);
}
