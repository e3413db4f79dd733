// CSV (or TSV) with a header row; every value is text, mapping converts what it needs.
import { statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import type { InputRow, InputSource } from './input-row';
import { utf8Lines } from './utf8-lines';

export function csvSource(path: string, delimiter = path.toLowerCase().endsWith('.tsv') ? '\t' : ','): InputSource {
  return {
    format: 'csv',
    total: statSync(path).size,
    async *rows(): AsyncIterable<InputRow> {
      let bytes = 0;
      // Lines decoded strictly, then handed to the parser as text (it sees the same line numbers); text stops at a line that is not UTF-8.
      let invalid: InputRow | undefined;
      const text = Readable.from(
        (async function* () {
          for await (const line of utf8Lines(path)) {
            if ('invalid' in line) {
              invalid = { ok: false, where: `${path}:${line.lineNo}`, reason: `${line.invalid}; the rest of the file was not read`, progress: line.bytes };
              return;
            }
            bytes = line.bytes;
            yield `${line.text}\n`;
          }
        })(),
      );
      // info gives each record's starting line; relax_column_count lets us report a short row instead of aborting.
      const parser = text.pipe(parse({ columns: true, delimiter, bom: true, info: true, skip_empty_lines: true, relax_column_count: true }));
      let invalidSoFar = 0;
      try {
        for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number; columns: unknown; invalid_field_length: number } }>) {
          const where = `${path}:${info.lines}`;
          // The parser counts rows of the wrong length; a rise means this row is one of them.
          if (info.invalid_field_length > invalidSoFar) {
            invalidSoFar = info.invalid_field_length;
            const columns = Array.isArray(info.columns) ? info.columns.length : Object.keys(record).length;
            yield { ok: false, where, reason: `expected ${columns} columns like the header, got a row of a different length`, progress: bytes };
            continue;
          }
          yield { ok: true, where, record, progress: bytes };
        }
      } catch (err) {
        const e = err as Error & { lines?: number };
        // A parse error (e.g. an unclosed quote) leaves the rest of the file unreadable: report it as the last row.
        if (!invalid) yield { ok: false, where: `${path}:${e.lines ?? '?'}`, reason: `CSV cannot be parsed: ${e.message}`, progress: bytes };
      }
      // Bytes that are not UTF-8 end the text like a parse error: the rows before them stand, that line is the last.
      if (invalid) yield invalid;
    },
  };
}
