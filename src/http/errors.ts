/**
 * The one registry of error codes. Every error a client can see has a stable
 * `code` from here and is sent as application/problem+json (RFC 9457).
 * Codes never change meaning; add new ones rather than reuse.
 */

export const errorCodes = {
  validation_failed: { status: 400, title: 'The request is not valid' },
  bad_request: { status: 400, title: 'Bad request' },
  unauthenticated: { status: 401, title: 'Sign-in required' },
  invalid_credentials: { status: 401, title: 'Wrong email, password or access code' },
  token_invalid: { status: 401, title: 'The token is invalid or expired' },
  forbidden: { status: 403, title: 'Not allowed' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  conflict: { status: 409, title: 'Conflict' },
  email_taken: { status: 409, title: 'That email is already in use' },
  session_full: { status: 409, title: 'The session has no free seats' },
  already_booked: { status: 409, title: 'Already booked for this assessment' },
  booking_closed: { status: 409, title: 'Booking is closed for this session' },
  not_published: { status: 409, title: 'The assessment has no published version' },
  not_publishable: { status: 409, title: 'The assessment cannot be published as it is' },
  session_not_open: { status: 409, title: 'The exam session is not open now' },
  attempt_closed: { status: 409, title: 'The attempt is already submitted or past its deadline' },
  csv_invalid: { status: 400, title: 'The CSV file cannot be read' },
  district_mismatch: { status: 409, title: 'The session is for another district' },
  payload_too_large: { status: 413, title: 'The request body is too large' },
  uri_too_long: { status: 414, title: 'The URL is too long' },
  request_timeout: { status: 408, title: 'The request took too long to arrive' },
  headers_too_large: { status: 431, title: 'The request headers are too large' },
  unsupported_media_type: { status: 415, title: 'Unsupported content type' },
  rate_limited: { status: 429, title: 'Too many requests' },
  quota_exceeded: { status: 429, title: 'Your plan’s quota is used up' },
  not_a_pdf: { status: 415, title: 'The file is not a PDF' },
  internal: { status: 500, title: 'Internal error' },
  overloaded: { status: 503, title: 'The server is busy; retry shortly' },
  unavailable: { status: 503, title: 'A service examday needs is unreachable; retry shortly' },
  not_ready: { status: 503, title: 'Not ready' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof errorCodes;

export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail: string;
  instance?: string;
  /** Field-level problems for validation errors. */
  errors?: { path: string; message: string }[];
  [extra: string]: unknown;
}

/** Throw from services and routes; mapped to problem+json by the error handler. */
export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    detail?: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail ?? errorCodes[code].title);
    this.name = 'AppError';
    this.status = errorCodes[code].status;
  }
}

export function problem(code: ErrorCode, detail: string, extra: Record<string, unknown> = {}): ProblemDetails {
  const { status, title } = errorCodes[code];
  return { type: `https://examday.dev/problems/${code.replace(/_/g, '-')}`, title, status, code, detail, ...extra };
}

export const notFound = (what: string) => new AppError('not_found', `${what} was not found`);
export const forbidden = (why = 'your role does not allow this') => new AppError('forbidden', why);
