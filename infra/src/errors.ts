/** What went wrong while managing a local service; `code` lets callers branch without parsing messages. */
export type LocalServiceErrorCode =
  | 'BAD_CONFIG'
  | 'PREREQUISITE_MISSING'
  | 'INSTALL_FAILED'
  | 'PORT_IN_USE'
  | 'START_FAILED'
  | 'START_TIMEOUT'
  | 'STOP_FAILED';

export class LocalServiceError extends Error {
  constructor(
    readonly code: LocalServiceErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'LocalServiceError';
  }
}
