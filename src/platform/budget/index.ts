/**
 * Provider budget port: the AI provider's limits (requests per minute,
 * tokens per minute, tokens per day) shared by every worker process, so the
 * cluster as a whole never sends more than the provider allows. Two adapters:
 * in-process (`memory.ts`, one process) and Redis (`redis.ts`, every process
 * of a deployment shares the counters). One conformance suite runs on both.
 *
 * Guarantees:
 * - Per-minute limits hold over a sliding window, as providers count them:
 *   no span of `windowMs` (default one minute plus a one-second margin for
 *   the time between reserving and the request reaching the provider) ever
 *   holds more counted requests or tokens than the limit, however many
 *   callers reserve at once. The check and the count are one atomic step (a
 *   Lua script on Redis; a synchronous section in process).
 * - Tokens per day use the UTC day.
 * - `reserve` counts the whole reservation or none of it; when it refuses it
 *   says how long until enough of the window has slid past to let it in.
 * - Tokens are estimated before a call; `commit(id, delta)` corrects that
 *   reservation by the difference once the real usage is known, wherever it
 *   still counts (a negative delta gives room back, never below zero).
 * - A reservation larger than a limit is clamped to it, so an oversized
 *   request waits for an empty window instead of waiting forever.
 */
export interface BudgetLimits {
  requestsPerMinute: number;
  tokensPerMinute: number;
  tokensPerDay: number;
}

export type Reservation = { ok: true; id: string } | { ok: false; retryAfterMs: number };

/** What the current windows have counted so far (never negative). */
export interface BudgetUsage {
  requestsLastMinute: number;
  tokensLastMinute: number;
  tokensToday: number;
}

export interface ProviderBudget {
  readonly kind: 'memory' | 'redis';
  reserve(requests: number, estimatedTokens: number): Promise<Reservation>;
  /** Add `tokenDelta` (actual − estimated; may be negative) to a granted reservation. */
  commit(reservationId: string, tokenDelta: number): Promise<void>;
  /**
   * Read-only: what the sliding minute and the UTC day have counted (every
   * process's reservations on Redis). Counts nothing itself, so dashboards
   * may call it as often as they like.
   */
  usage(): Promise<BudgetUsage>;
  close(): Promise<void>;
}

export const MINUTE_MS = 60_000;
export const DAY_MS = 86_400_000;
/** The sliding "minute": a minute plus a margin for the trip from reserve() to the provider. */
export const DEFAULT_WINDOW_MS = MINUTE_MS + 1000;

/** The amounts a reservation really counts (see the clamping guarantee). */
export function clampReservation(limits: BudgetLimits, requests: number, tokens: number): { requests: number; tokens: number } {
  if (!Number.isInteger(requests) || requests < 0) throw new RangeError(`requests must be a non-negative integer, got ${requests}`);
  if (!Number.isFinite(tokens) || tokens < 0) throw new RangeError(`estimatedTokens must be a non-negative number, got ${tokens}`);
  return {
    requests: Math.min(requests, limits.requestsPerMinute),
    tokens: Math.min(Math.ceil(tokens), limits.tokensPerMinute, limits.tokensPerDay),
  };
}
