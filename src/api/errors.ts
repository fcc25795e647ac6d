// Every error a client can cause, with its status. Routes throw these; app.ts turns them
// into responses in one place.
export const CLIENT_ERRORS = {
  MissingParameter: 400,
  InvalidParameter: 400,
  UnavailableName: 400,
  UnavailableNameReclamationPossible: 400,
  ReclamationTokenMismatch: 400,
  NoSuchName: 400,
  NoEmail: 400,
  UnknownToken: 404,
  UnknownReclamationToken: 404,
  NotFound: 404,
  MethodNotAllowed: 405,
  TooManyRequests: 429,
  InternalError: 501,
} as const;

export type ErrorCode = keyof typeof CLIENT_ERRORS;

export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    /** overrides the code's usual status where the contract differs (/unsubscribe's 400) */
    status?: number,
    readonly retryAfterSeconds?: number,
  ) {
    super(code);
    this.status = status ?? CLIENT_ERRORS[code];
  }
}
