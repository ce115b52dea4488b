/**
 * A circuit breaker on the AI provider, per worker process. While the
 * provider is down, every chunk job would otherwise spend an attempt (and a
 * timeout) finding that out; after `threshold` consecutive failures the
 * breaker opens and jobs are rescheduled without calling. After `openMs` one
 * call is let through as a probe (half-open): success closes the breaker,
 * failure opens it again.
 */
export type BreakerState = 'closed' | 'open' | 'half_open';

export interface CircuitBreaker {
  /** ms to wait before calling, or 0 when a call may go ahead now (a half-open probe counts as that call). */
  admit(): number;
  success(): void;
  failure(): void;
  state(): BreakerState;
}

export interface BreakerOptions {
  threshold: number;
  openMs: number;
  clock?: () => number;
  onChange?: (state: BreakerState) => void;
}

export function createCircuitBreaker({ threshold, openMs, clock = Date.now, onChange }: BreakerOptions): CircuitBreaker {
  let state: BreakerState = 'closed';
  let failures = 0;
  let openedAt = 0;
  let probing = false;
  const set = (next: BreakerState): void => {
    if (next !== state) {
      state = next;
      onChange?.(next);
    }
  };
  return {
    admit() {
      if (state === 'closed') return 0;
      const waited = clock() - openedAt;
      if (state === 'open' && waited >= openMs) set('half_open');
      if (state === 'half_open' && !probing) {
        probing = true;
        return 0;
      }
      // While a probe is out, others wait a short while for its verdict.
      return state === 'half_open' ? Math.min(1000, openMs) : Math.max(1, openMs - waited);
    },
    success() {
      failures = 0;
      probing = false;
      set('closed');
    },
    failure() {
      failures++;
      if (state === 'half_open' || failures >= threshold) {
        probing = false;
        openedAt = clock();
        set('open');
      }
    },
    state: () => state,
  };
}
