// Parsers for flag values: each refuses bad text with a message naming what was expected.
import { InvalidArgumentError } from 'commander';
import { BYTE_SIZE_EXAMPLES, parseByteSize } from '@sluice/engine/byte-size';

export function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^[-+]?\d+$/.test(value.trim()) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}, got "${value}"`);
    return n;
  };
}

export function positiveSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a number of seconds > 0, got "${value}"`);
  return n;
}

const WINDOW_UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A deadline as ms since the epoch: a window from now (`24h`, `30m`, `90s`, `7d`, as OpenAI's completion_window), an
 * ISO-8601 date-time or ms since the epoch. One already past is refused: every job would expire unrun.
 */
export function deadline(value: string, now: number = Date.now()): number {
  const window = /^(\d+(?:\.\d+)?)([smhd])$/.exec(value.trim());
  const ms = window ? now + Math.round(Number(window[1]) * WINDOW_UNITS[window[2]]) : /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (Number.isNaN(ms)) throw new InvalidArgumentError(`expected a window like 24h, 30m or 7d, an ISO-8601 date-time or milliseconds since the epoch, got "${value}"`);
  if (ms <= now) throw new InvalidArgumentError(`"${value}" is in the past (${new Date(ms).toISOString()}); every job would expire unrun`);
  return ms;
}

/** A size in bytes: a number, or with a unit (512MiB, 20GiB, 1.5GB), by the engine's one rule (the worker's --kv-cache-bytes too). */
export function byteSize(value: string): number {
  const n = parseByteSize(value);
  if (n === undefined || n < 1) throw new InvalidArgumentError(`expected a size like ${BYTE_SIZE_EXAMPLES}, got "${value}"`);
  return n;
}
