/**
 * The API paths a candidate's browser asks for on exam day (web/src/lib/api.ts),
 * relative to /api/v1, with the same query strings: the load harness sends
 * exactly these, and the browser test in src/e2e/browser checks that the web
 * app's sign-in makes the requests `SIGN_IN_REQUESTS` lists, in that order.
 */
export const clientPaths = {
  signIn: () => '/auth/access-code',
  refresh: () => '/auth/refresh',
  /**
   * The candidate's start page when it was not reached by signing in (a reload):
   * one request (bookings carry their attempt's status). After a sign-in the
   * sign-in's answer carries the same page, and the start page asks nothing.
   */
  dashboard: () => '/bookings?status=active&limit=100',
  sessions: () => '/sessions?limit=200',
  book: (sessionId: string) => `/sessions/${sessionId}/bookings`,
  /** Start; the answer carries the paper, so a fresh start asks for no paper of its own. */
  start: (bookingId: string) => `/bookings/${bookingId}/attempt?include=paper`,
  /** The exam page after a reload or on another device, with its paper (a fresh start hands its answer over instead). */
  resume: (attemptId: string) => `/attempts/${attemptId}?include=paper`,
  /** The paper alone: from a server that answers without it. */
  paper: (attemptId: string) => `/attempts/${attemptId}/paper`,
  answers: (attemptId: string) => `/attempts/${attemptId}/answers`,
  submit: (attemptId: string) => `/attempts/${attemptId}/submit`,
  result: (attemptId: string) => `/attempts/${attemptId}/result`,
};

/**
 * After a submit the result page asks for the result until the attempt is
 * graded: the first ask when the submit's answer says (`askResultInS`; FIRST_MS
 * without it), the next 2 × FIRST_MS after that, each later one twice as long
 * after the one before, at most MAX_MS — or, when the server's answer says
 * `askAgainInS`, at least that long — each wait jittered by ±JITTER
 * (web/src/candidate/Result.tsx; the browser test checks it asks nothing else).
 */
export const RESULT_ASKS = { firstMs: 3000, maxMs: 30_000, jitter: 0.25 } as const;

/** A pre-booked candidate from the sign-in form to the first question on screen, ids written `:id`. */
export const SIGN_IN_REQUESTS: readonly string[] = [
  `POST ${clientPaths.signIn()}`,
  `POST ${clientPaths.start(':id')}`,
];
