/** Why a row cannot become a job; the message names the field it is about. */
export class RowError extends Error {
  override readonly name = 'RowError';
}
