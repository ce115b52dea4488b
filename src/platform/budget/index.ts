/**
 * Provider budget port: the AI provider's limits (requests per minute,
 * tokens per minute, tokens per day) shared by every worker process, so the
 * cluster as a whole never sends more than the provider allows. Two adapters:
 * in-process (`memory.ts`, one process) and Redis (`redis.ts`, every process
 * of a deployment shares the counters). One conformance suite runs on both.
 *
 * Guarantees:
 * - Fixed windows: a UTC minute and a UTC day. Within one window the counted
 *   requests and tokens never pass the limits, however many callers reserve
 *   at once: the check and the increment are one atomic step (a Lua script
 *   on Redis; a synchronous section in process).
 * - `reserve` either counts the whole reservation in every window or none of
 *   it, and when it refuses says how long until the window that refused ends.
 * - Tokens are estimated before a call; `commit` corrects the current windows
 *   by the difference once the real usage is known (negative gives room back).
 * - A reservation larger than a limit is clamped to it, so an oversized
 *   request waits for an empty window instead of waiting forever.
 * - Fixed windows allow up to twice a limit across a window boundary; callers
 *   that need a sliding guarantee set limits at half the provider's.
 */
export interface BudgetLimits {
  requestsPerMinute: number;
  tokensPerMinute: number;
  tokensPerDay: number;
}

export type Reservation = { ok: true } | { ok: false; retryAfterMs: number };

export interface ProviderBudget {
  readonly kind: 'memory' | 'redis';
  reserve(requests: number, estimatedTokens: number): Promise<Reservation>;
  /** Add `tokenDelta` (actual − estimated; may be negative) to the current token windows. */
  commit(tokenDelta: number): Promise<void>;
  close(): Promise<void>;
}

export const MINUTE_MS = 60_000;
export const DAY_MS = 86_400_000;

/** The amounts a reservation really counts (see the clamping guarantee). */
export function clampReservation(limits: BudgetLimits, requests: number, tokens: number): { requests: number; tokens: number } {
  if (!Number.isInteger(requests) || requests < 0) throw new RangeError(`requests must be a non-negative integer, got ${requests}`);
  if (!Number.isFinite(tokens) || tokens < 0) throw new RangeError(`estimatedTokens must be a non-negative number, got ${tokens}`);
  return {
    requests: Math.min(requests, limits.requestsPerMinute),
    tokens: Math.min(Math.ceil(tokens), limits.tokensPerMinute, limits.tokensPerDay),
  };
}
