// JSON Lines: one JSON object per line; blank lines are skipped, line numbers are 1-based.
import { createReadStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { InputFormat, InputRow, InputSource } from './input-row';

/** Reads `path` line by line; also the transport of the OpenAI Batch format. */
export function jsonlSource(path: string, format: InputFormat = 'jsonl'): InputSource {
  return {
    format,
    total: statSync(path).size,
    async *rows(): AsyncIterable<InputRow> {
      const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
      let lineNo = 0;
      let bytes = 0;
      for await (const line of lines) {
        lineNo += 1;
        bytes += Buffer.byteLength(line) + 1;
        const where = `${path}:${lineNo}`;
        if (line.trim() === '') continue;
        let value: unknown;
        try {
          value = JSON.parse(line);
        } catch (err) {
          yield { ok: false, where, reason: `not valid JSON: ${(err as Error).message}`, progress: bytes };
          continue;
        }
        if (typeof value !== 'object' || value === null || Array.isArray(value)) {
          yield { ok: false, where, reason: 'each line must be a JSON object', progress: bytes };
          continue;
        }
        yield { ok: true, where, record: value as Record<string, unknown>, progress: bytes };
      }
    },
  };
}
