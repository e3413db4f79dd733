// A text file's lines decoded strictly: bytes that are not UTF-8 are reported with their line, never replaced by U+FFFD.
import { createReadStream } from 'node:fs';

export type TextLine =
  /** `text` keeps a trailing \r (CRLF files); `bytes` is how far into the file this line ends. */
  | { lineNo: number; bytes: number; text: string }
  | { lineNo: number; bytes: number; invalid: string };

// ignoreBOM: a U+FEFF inside the file stays; only the file's first line drops it (utf8Lines does).
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export const INVALID_UTF8 = 'is not valid UTF-8 (the file must be UTF-8 encoded)';

function decode(raw: Buffer, lineNo: number, bytes: number): TextLine {
  try {
    const text = decoder.decode(raw);
    return { lineNo, bytes, text: lineNo === 1 && text.startsWith('\ufeff') ? text.slice(1) : text };
  } catch {
    return { lineNo, bytes, invalid: `the line ${INVALID_UTF8}` };
  }
}

/** Each line of `path` (split on \n, 1-based), a UTF-8 byte order mark at its start dropped. */
export async function* utf8Lines(path: string): AsyncGenerator<TextLine> {
  let pending: Buffer[] = [];
  let lineNo = 0;
  let bytes = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl >= 0; nl = chunk.indexOf(10, start)) {
      pending.push(chunk.subarray(start, nl));
      const raw = Buffer.concat(pending);
      pending = [];
      start = nl + 1;
      bytes += raw.length + 1;
      yield decode(raw, ++lineNo, bytes);
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
  }
  if (pending.length) {
    const raw = Buffer.concat(pending);
    bytes += raw.length;
    yield decode(raw, ++lineNo, bytes);
  }
}
