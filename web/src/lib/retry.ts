/**
 * Retrying a request the server could not take right now: no answer at all
 * (NetworkError), or 503 (busy, or a service it needs briefly unreachable).
 * Waits the server's Retry-After when it gives one, else a jittered backoff,
 * and gives up after `maxWaitMs` of waiting, with the last error. Only for
 * requests that are safe to send again (starting an attempt returns the
 * attempt already started). No browser APIs, so it is tested outside one.
 */
import { backoffDelay } from './autosave.ts';
import { ApiError, NetworkError } from './errors.ts';

export interface RetryOptions {
  /** Total time spent waiting between tries before giving up (default 60 s). */
  maxWaitMs?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Called before each wait, with the error that caused it and the wait. */
  onRetry?: (err: unknown, delayMs: number) => void;
}

/** An answer worth trying again shortly: no answer, or the server saying it is busy or briefly without a service. */
export function isTransient(err: unknown): boolean {
  return err instanceof NetworkError || (err instanceof ApiError && err.status === 503);
}

export async function retryTransient<T>(fn: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const maxWaitMs = opts.maxWaitMs ?? 60_000;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let waited = 0;
  for (let failures = 1; ; failures++) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransient(err)) throw err;
      const retryAfterMs = err instanceof ApiError && err.retryAfterS !== null ? err.retryAfterS * 1000 : 0;
      const delay = Math.max(retryAfterMs, backoffDelay(failures, opts.baseDelayMs ?? 1000, opts.maxDelayMs ?? 10_000, opts.random));
      if (waited + delay > maxWaitMs) throw err;
      opts.onRetry?.(err, delay);
      await sleep(delay);
      waited += delay;
    }
  }
}
