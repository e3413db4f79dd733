// What every input reader yields: one record with where it came from, so errors can point at the line.

export type InputFormat = 'jsonl' | 'csv' | 'parquet' | 'openai';

export const INPUT_FORMATS: readonly InputFormat[] = ['jsonl', 'csv', 'parquet', 'openai'];

export type InputRow =
  | { ok: true; where: string; record: Record<string, unknown>; progress: number }
  /** A row that could not even be parsed (bad JSON, wrong column count); mapping never sees it. */
  | { ok: false; where: string; reason: string; progress: number };

/** A reader of one file; `total` is the unit `progress` counts in (bytes for text, rows for Parquet). */
export interface InputSource {
  format: InputFormat;
  total: number;
  rows(): AsyncIterable<InputRow>;
}
