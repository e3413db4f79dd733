// Memory sizes as every flag and option that takes one reads them (the KV cache's, in the worker and in generate).

const UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30 };

/** What a size may look like, for error messages. */
export const BYTE_SIZE_EXAMPLES = '536870912, 512MiB or 20GiB';

/** "1073741824", "512MiB", "20GiB" or "1.5GB" in bytes (floored); undefined when it is not such a size or not a safe integer. */
export function parseByteSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) return undefined;
  const n = Math.floor(Number(m[1]) * unit);
  return Number.isSafeInteger(n) ? n : undefined;
}
