/** In-process provider budget: exact for one process (the embedded mode). */
import { clampReservation, DAY_MS, MINUTE_MS, type BudgetLimits, type ProviderBudget } from './index.ts';

export function createMemoryBudget(limits: BudgetLimits, clock: () => number = Date.now): ProviderBudget {
  let minute = -1;
  let day = -1;
  let requests = 0;
  let minuteTokens = 0;
  let dayTokens = 0;
  const roll = (now: number): void => {
    const m = Math.floor(now / MINUTE_MS);
    const d = Math.floor(now / DAY_MS);
    if (m !== minute) [minute, requests, minuteTokens] = [m, 0, 0];
    if (d !== day) [day, dayTokens] = [d, 0];
  };
  return {
    kind: 'memory',
    async reserve(wantRequests, estimatedTokens) {
      const want = clampReservation(limits, wantRequests, estimatedTokens);
      const now = clock();
      roll(now);
      let wait = 0;
      if (requests + want.requests > limits.requestsPerMinute || minuteTokens + want.tokens > limits.tokensPerMinute) {
        wait = (minute + 1) * MINUTE_MS - now;
      }
      if (dayTokens + want.tokens > limits.tokensPerDay) wait = Math.max(wait, (day + 1) * DAY_MS - now);
      if (wait > 0) return { ok: false, retryAfterMs: wait };
      requests += want.requests;
      minuteTokens += want.tokens;
      dayTokens += want.tokens;
      return { ok: true };
    },
    async commit(tokenDelta) {
      roll(clock());
      minuteTokens += Math.round(tokenDelta);
      dayTokens += Math.round(tokenDelta);
    },
    async close() {},
  };
}
