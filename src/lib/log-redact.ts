/**
 * What pino hides in every log line: credentials a line could carry. Only
 * named fields: an error's `code` (a SQLSTATE such as 57P01, an errno such as
 * ECONNREFUSED) is what an operator reads first in an outage, so a blanket
 * `*.code` is not used; a candidate's access code is `accessCode`, or `code`
 * in a sign-in request's body.
 */
export const LOG_REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  '*.password',
  '*.refreshToken',
  '*.accessCode',
  'body.code',
  '*.body.code',
];
