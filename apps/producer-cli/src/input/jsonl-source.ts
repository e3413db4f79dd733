// JSON Lines: one JSON object per line; blank lines are skipped, line numbers are 1-based.
import { statSync } from 'node:fs';
import type { InputFormat, InputRow, InputSource } from './input-row';
import { utf8Lines } from './utf8-lines';

/** Reads `path` line by line; also the transport of the OpenAI Batch format. */
export function jsonlSource(path: string, format: InputFormat = 'jsonl'): InputSource {
  return {
    format,
    total: statSync(path).size,
    async *rows(): AsyncIterable<InputRow> {
      for await (const line of utf8Lines(path)) {
        const where = `${path}:${line.lineNo}`;
        const progress = line.bytes;
        if ('invalid' in line) {
          yield { ok: false, where, reason: line.invalid, progress };
          continue;
        }
        if (line.text.trim() === '') continue;
        let value: unknown;
        try {
          value = JSON.parse(line.text);
        } catch (err) {
          yield { ok: false, where, reason: `not valid JSON: ${(err as Error).message}`, progress };
          continue;
        }
        if (typeof value !== 'object' || value === null || Array.isArray(value)) {
          yield { ok: false, where, reason: 'each line must be a JSON object', progress };
          continue;
        }
        yield { ok: true, where, record: value as Record<string, unknown>, progress };
      }
    },
  };
}
