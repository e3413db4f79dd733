// Fitting one record into its topic's record size limit: the rules, free of Kafka, so they are unit-tested exactly.
import type { Completion, DeadLetter } from '../jobs/schema';
import type { OutcomeCode } from '@sluice/schema';

/** Longest key, error_message, job_id or batch_id a dead letter keeps once cutting its value and headers was not enough. */
export const TEXT_CAP_BYTES = 1024;
/** What ends a text that was cut to TEXT_CAP_BYTES. */
export const CUT_MARK = '[cut]';
/** The error code of a completion too large for the results topic (an error completion, or a dead letter if even that is too large). */
export const RESULT_TOO_LARGE = 'RESULT_TOO_LARGE' satisfies OutcomeCode;

export type Encode<T> = (record: T) => Promise<Buffer>;

/** What a dead letter lost to fit, cumulative, in the order they are tried: the value first, texts last. */
export type LetterCut = 'value' | 'headers' | 'key' | 'texts';
const LETTER_CUTS: readonly LetterCut[] = ['value', 'headers', 'key', 'texts'];

export interface FittedLetter {
  letter: DeadLetter;
  /** The encoded dead letter, to be produced as it is. */
  value: Buffer;
  /** The whole letter's encoded size, before any cut. */
  wholeBytes: number;
  cuts: LetterCut[];
}

const keyBytes = (key: Buffer | string | null | undefined): number => (key == null ? 0 : Buffer.byteLength(key));

/** The first `max` bytes of a UTF-8 text, never splitting a character, ending in CUT_MARK; the text itself if it fits. */
export function cutText(text: string, max = TEXT_CAP_BYTES): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= max) return text;
  let end = max - Buffer.byteLength(CUT_MARK);
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--; // back to the first byte of a character
  return bytes.subarray(0, end).toString('utf8') + CUT_MARK;
}

function applyCuts(letter: DeadLetter, cuts: readonly LetterCut[]): DeadLetter {
  const out: DeadLetter = { ...letter, value: null, value_truncated: true };
  if (cuts.includes('headers')) Object.assign(out, { headers: {}, headers_truncated: Object.keys(letter.headers).length > 0 });
  if (cuts.includes('key') && letter.key && letter.key.length > TEXT_CAP_BYTES) Object.assign(out, { key: letter.key.subarray(0, TEXT_CAP_BYTES), key_truncated: true });
  if (cuts.includes('texts')) {
    out.error_message = cutText(letter.error_message);
    out.job_id = letter.job_id == null ? letter.job_id : cutText(letter.job_id);
    out.batch_id = letter.batch_id == null ? letter.batch_id : cutText(letter.batch_id);
  }
  return out;
}

/**
 * The longest prefix of `value` that fits `budget` (encoded letter plus its key) in `base`, whose value is null;
 * undefined if not even the empty letter fits.
 */
async function fillValue(base: DeadLetter, value: Buffer | null | undefined, budget: number, encode: Encode<DeadLetter>): Promise<{ letter: DeadLetter; value: Buffer } | undefined> {
  const empty = await encode(base);
  // 5 bytes: the longest length prefix (a zigzag varint) of any bytes value under 2 GiB.
  let room = budget - empty.length - keyBytes(base.key) - 5;
  if (room < 0) return undefined;
  if (!value?.length || room === 0) {
    const letter = { ...base, value: value?.length === 0 ? value : null, value_truncated: Boolean(value?.length) };
    return { letter, value: await encode(letter) };
  }
  room = Math.min(room, value.length);
  for (;;) {
    const letter = { ...base, value: value.subarray(0, room), value_truncated: room < value.length };
    const bytes = await encode(letter);
    const over = bytes.length + keyBytes(letter.key) - budget;
    if (over <= 0) return { letter, value: bytes };
    room -= over;
  }
}

/**
 * The dead letter as it can be produced within `budget` bytes of encoded value plus key: whole if it fits, else with
 * its value cut to a prefix, then its headers left out, its key cut, and its texts cut, each only if still needed.
 * value_size and value_sha256 (set when the letter was made) keep describing the whole original.
 */
export async function fitDeadLetter(letter: DeadLetter, budget: number, encode: Encode<DeadLetter>): Promise<FittedLetter> {
  const whole = await encode(letter);
  if (whole.length + keyBytes(letter.key) <= budget) return { letter, value: whole, wholeBytes: whole.length, cuts: [] };
  for (let n = 1; n <= LETTER_CUTS.length; n++) {
    const cuts = LETTER_CUTS.slice(0, n);
    const fitted = await fillValue(applyCuts(letter, cuts), letter.value, budget, encode);
    if (fitted) return { ...fitted, wholeBytes: whole.length, cuts };
  }
  throw new Error(`a dead letter of ${letter.source_topic}/${letter.source_partition} offset ${letter.source_offset} cannot fit ${budget} bytes even cut to its fixed fields: the topic's max.message.bytes is too small`);
}

/** 'error': replaced by a RESULT_TOO_LARGE error completion; 'metadata': that, without its metadata too; 'unfit': neither fits. */
export type FittedCompletion = { wholeBytes: number; reason: string } & ({ cut: 'none' | 'error' | 'metadata'; completion: Completion; value: Buffer } | { cut: 'unfit' });

/**
 * The completion as it can be produced within `budget` bytes (keyed by job_id): whole if it fits, else a
 * RESULT_TOO_LARGE error completion with the same ids, usage and timings (metadata kept if it fits), else 'unfit'
 * (its job_id or batch_id alone is too long) for the caller to dead-letter with `reason`.
 */
export async function fitCompletion(completion: Completion, budget: number, limitNote: string, encode: Encode<Completion>): Promise<FittedCompletion> {
  const whole = await encode(completion);
  const key = keyBytes(completion.job_id);
  const reason = `the completion is ${whole.length} bytes encoded, over ${limitNote}`;
  if (whole.length + key <= budget) return { completion, value: whole, wholeBytes: whole.length, reason: '', cut: 'none' };
  const error = { code: RESULT_TOO_LARGE, message: `${reason}; its outputs were dropped` };
  for (const [cut, metadata] of [['error', completion.metadata], ['metadata', {}]] as const) {
    const smaller: Completion = { ...completion, outputs: [], metadata, error };
    const value = await encode(smaller);
    if (value.length + key <= budget) return { completion: smaller, value, wholeBytes: whole.length, reason, cut };
  }
  return { wholeBytes: whole.length, reason, cut: 'unfit' };
}
