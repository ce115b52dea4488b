/**
 * The retry policy of the exam client, shared by the load harness so the
 * simulated candidates come back to an overloaded server the way real ones do.
 *
 * - Transport failures, timeouts, 408/425/429 and 5xx are retried; other 4xx
 *   are answers (a retry would get the same one).
 * - Delay: exponential with full jitter (uniform in [0, min(cap, base·2^n)]),
 *   so thousands of clients refused at the same moment do not return at the
 *   same moment. A `Retry-After` from the server is a floor: the client waits
 *   at least that long, plus a jittered share of the backoff on top.
 */
export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 250, capMs: 10_000 };

/** `status` 0 means no response (connection refused or reset, timeout). */
export function isRetryable(status: number): boolean {
  return status === 0 || status === 408 || status === 425 || status === 429 || status >= 500;
}

/** Delay before try number `retry + 1` (retry 0 is the first retry). */
export function retryDelayMs(
  retry: number,
  retryAfterS: number | undefined,
  random: () => number = Math.random,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(retry, 30));
  const jittered = random() * ceiling;
  if (retryAfterS !== undefined && retryAfterS > 0) return Math.min(retryAfterS * 1000, 120_000) + jittered;
  return jittered;
}

/** `Retry-After` as seconds (delta form only; an HTTP date is treated as absent). */
export function parseRetryAfter(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const n = Number(v.trim());
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}
