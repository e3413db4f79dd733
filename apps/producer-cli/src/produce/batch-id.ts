import { randomBytes } from 'node:crypto';
import { BATCH_ID_PATTERN } from '@sluice/schema';
import { usageError } from '../errors';

/** A fresh batch id: sortable by time, unique by a random tail, e.g. `b-20260102-030405-3fa9c1`. */
export function newBatchId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `b-${stamp}-${randomBytes(3).toString('hex')}`;
}

/** `what` names where the id came from in the error: the flag, or the positional argument. */
export function checkBatchId(id: string, what = '--batch-id'): string {
  if (!BATCH_ID_PATTERN.test(id)) throw usageError(`${what}: "${id}" must be 1-128 letters, digits or . _ : - starting with a letter or digit`);
  return id;
}
