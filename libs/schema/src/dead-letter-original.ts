import { createHash } from 'node:crypto';
import type { DeadLetter } from './types';

/**
 * A new dead letter's record of its original value: the whole value's size and SHA-256, so a copy fetched from
 * the source can be checked even after the value is cut to fit the DLQ topic; nothing is cut yet.
 */
export function deadLetterOriginal(
  value: Buffer | null,
): Pick<DeadLetter, 'value_size' | 'value_sha256' | 'value_truncated' | 'key_truncated' | 'headers_truncated'> {
  return {
    value_size: value?.length ?? null,
    value_sha256: value ? createHash('sha256').update(value).digest('hex') : null,
    value_truncated: false,
    key_truncated: false,
    headers_truncated: false,
  };
}
