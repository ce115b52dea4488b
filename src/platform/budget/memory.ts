/** In-process provider budget: exact for one process (the embedded mode). */
import { clampReservation, DAY_MS, DEFAULT_WINDOW_MS, type BudgetLimits, type ProviderBudget } from './index.ts';

interface Entry {
  id: string;
  at: number;
  requests: number;
  tokens: number;
}

export interface MemoryBudgetOptions {
  clock?: () => number;
  /** Length of the sliding "minute" (default a minute plus one second). */
  windowMs?: number;
}

export function createMemoryBudget(limits: BudgetLimits, opts: MemoryBudgetOptions = {}): ProviderBudget {
  const clock = opts.clock ?? Date.now;
  const windowMs = opts.windowMs ?? DEFAULT_WINDOW_MS;
  /** Granted reservations still inside the window, oldest first. */
  const log: Entry[] = [];
  const byId = new Map<string, Entry>();
  let requests = 0;
  let tokens = 0;
  let day = -1;
  let dayTokens = 0;
  let seq = 0;

  const slide = (now: number): void => {
    while (log.length && log[0]!.at <= now - windowMs) {
      const e = log.shift()!;
      requests -= e.requests;
      tokens -= e.tokens;
      byId.delete(e.id);
    }
    const d = Math.floor(now / DAY_MS);
    if (d !== day) [day, dayTokens] = [d, 0];
  };

  /** How long until enough entries leave the window for `want` to fit. */
  const minuteWait = (now: number, want: { requests: number; tokens: number }): number => {
    let r = requests;
    let t = tokens;
    for (const e of log) {
      if (r + want.requests <= limits.requestsPerMinute && t + want.tokens <= limits.tokensPerMinute) break;
      r -= e.requests;
      t -= e.tokens;
      if (r + want.requests <= limits.requestsPerMinute && t + want.tokens <= limits.tokensPerMinute) return e.at + windowMs - now;
    }
    return 0;
  };

  return {
    kind: 'memory',
    async reserve(wantRequests, estimatedTokens) {
      const want = clampReservation(limits, wantRequests, estimatedTokens);
      const now = clock();
      slide(now);
      let wait = minuteWait(now, want);
      if (dayTokens + want.tokens > limits.tokensPerDay) wait = Math.max(wait, (day + 1) * DAY_MS - now);
      if (wait > 0) return { ok: false, retryAfterMs: wait };
      const entry: Entry = { id: String(++seq), at: now, ...want };
      log.push(entry);
      byId.set(entry.id, entry);
      requests += want.requests;
      tokens += want.tokens;
      dayTokens += want.tokens;
      return { ok: true, id: entry.id };
    },
    async commit(id, tokenDelta) {
      slide(clock());
      const delta = Math.round(tokenDelta);
      const e = byId.get(id);
      let dayDelta = delta;
      if (e) {
        const next = Math.max(0, e.tokens + delta);
        dayDelta = next - e.tokens;
        tokens += dayDelta;
        e.tokens = next;
      }
      dayTokens = Math.max(0, dayTokens + dayDelta);
    },
    async usage() {
      slide(clock());
      return { requestsLastMinute: requests, tokensLastMinute: tokens, tokensToday: dayTokens };
    },
    async close() {},
  };
}
