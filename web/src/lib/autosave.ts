/**
 * Sends the outbox to the server and says honestly where things stand.
 *
 * - Nothing is sent while the browser says it is offline; the `online` event
 *   (or a periodic check) sends everything waiting at once.
 * - A failed send is retried with exponential backoff and jitter (or after
 *   the server's Retry-After), so thousands of candidates whose network
 *   came back at the same moment do not all retry in the same second.
 * - An answer counts as saved only when the server has acknowledged its
 *   sequence number; until then it is "waiting", whatever happened.
 */
import { ApiError } from './errors.ts';
import type { AnswerOutbox, AnswerToSend } from './outbox.ts';

export type SaveState = 'idle' | 'saving' | 'offline' | 'retrying' | 'closed' | 'signed_out';

export interface SaveStatus {
  state: SaveState;
  /** Answers not yet acknowledged. */
  waiting: number;
  /** Answers the server refused (shown on their question). */
  rejected: number;
  lastSavedAt: number | null;
  /** When the next retry happens (state 'retrying'). */
  retryAt: number | null;
  /** Storage works: answers survive a reload. */
  persistent: boolean;
}

export type SendAnswers = (answers: AnswerToSend[]) => Promise<{ acked: { questionId: string; seq: number }[]; serverTime: string }>;

/** Where `online` / `offline` events come from (the window, in a browser). */
export interface OnlineEvents {
  addEventListener(type: 'online' | 'offline', fn: () => void): void;
  removeEventListener(type: 'online' | 'offline', fn: () => void): void;
}

type Timer = ReturnType<typeof setTimeout>;
type Ticker = ReturnType<typeof setInterval>;

export interface AutosaveOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Safety net: how often to look for waiting answers even without an event. */
  tickMs?: number;
  random?: () => number;
  isOnline?: () => boolean;
  events?: OnlineEvents;
  onServerTime?: (serverTime: string, sentAt: number, receivedAt: number) => void;
}

/** Delay before retry number `failures` (1-based): "equal jitter", half fixed and half random. */
export function backoffDelay(failures: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export class AutosaveEngine {
  readonly #listeners = new Set<(s: SaveStatus) => void>();
  #state: SaveState = 'idle';
  #failures = 0;
  #timer: Timer | null = null;
  #retryAt: number | null = null;
  #inFlight: Promise<void> | null = null;
  #again = false;
  #tick: Ticker | null = null;
  readonly #opts: Required<Omit<AutosaveOptions, 'onServerTime'>> & Pick<AutosaveOptions, 'onServerTime'>;

  constructor(
    private readonly outbox: AnswerOutbox,
    private readonly send: SendAnswers,
    opts: AutosaveOptions = {},
  ) {
    this.#opts = {
      baseDelayMs: opts.baseDelayMs ?? 1000,
      maxDelayMs: opts.maxDelayMs ?? 30_000,
      tickMs: opts.tickMs ?? 10_000,
      random: opts.random ?? Math.random,
      isOnline: opts.isOnline ?? (() => (globalThis as { navigator?: { onLine?: boolean } }).navigator?.onLine ?? true),
      // In a browser globalThis is the window; the cast is for type-checking this file outside one (its tests).
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
      events: opts.events ?? (globalThis as unknown as OnlineEvents),
      onServerTime: opts.onServerTime,
    };
  }

  readonly #onOnline = (): void => {
    this.#failures = 0;
    void this.flush();
  };
  readonly #onOffline = (): void => {
    if (this.#state !== 'closed') this.#set('offline');
  };

  start(): void {
    this.#opts.events.addEventListener('online', this.#onOnline);
    this.#opts.events.addEventListener('offline', this.#onOffline);
    this.#tick = setInterval(() => {
      if (!this.#inFlight && this.#timer === null && this.outbox.pendingCount() > 0) void this.flush();
      else this.#emit();
    }, this.#opts.tickMs);
    void this.flush();
  }

  stop(): void {
    this.#opts.events.removeEventListener('online', this.#onOnline);
    this.#opts.events.removeEventListener('offline', this.#onOffline);
    if (this.#tick !== null) clearInterval(this.#tick);
    this.#clearTimer();
  }

  subscribe(fn: (s: SaveStatus) => void): () => void {
    this.#listeners.add(fn);
    fn(this.status());
    return () => this.#listeners.delete(fn);
  }

  status(): SaveStatus {
    return {
      state: this.#state,
      waiting: this.outbox.pendingCount(),
      rejected: this.outbox.rejectedCount(),
      lastSavedAt: this.outbox.state().lastAckAt,
      retryAt: this.#retryAt,
      persistent: this.outbox.persistent,
    };
  }

  /** An answer changed: send it after `debounceMs` (typing), or at once (a click). */
  changed(debounceMs = 0): void {
    this.#emit();
    if (this.#state === 'closed' || this.#state === 'retrying') return;
    if (debounceMs <= 0) {
      void this.flush();
      return;
    }
    this.#clearTimer();
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.flush();
    }, debounceMs);
  }

  /** The attempt no longer takes answers (submitted, or time is over). */
  close(): void {
    this.#clearTimer();
    this.#set('closed');
  }

  flush(): Promise<void> {
    if (this.#state === 'closed') return Promise.resolve();
    if (this.#inFlight) {
      this.#again = true;
      return this.#inFlight;
    }
    this.#clearTimer();
    const batch = this.outbox.pending(200);
    if (batch.length === 0) {
      this.#set('idle');
      return Promise.resolve();
    }
    if (!this.#opts.isOnline()) {
      this.#set('offline');
      return Promise.resolve();
    }
    this.#set('saving');
    this.#inFlight = this.#sendBatch(batch).finally(() => {
      this.#inFlight = null;
      const again = this.#again;
      this.#again = false;
      if (this.#state === 'saving' || (again && this.#state === 'idle')) void this.flush();
    });
    return this.#inFlight;
  }

  async #sendBatch(batch: AnswerToSend[]): Promise<void> {
    const sentAt = Date.now();
    try {
      const r = await this.send(batch);
      const receivedAt = Date.now();
      this.outbox.ack(r.acked, receivedAt);
      this.#opts.onServerTime?.(r.serverTime, sentAt, receivedAt);
      this.#failures = 0;
      this.#retryAt = null;
      // Still 'saving': flush() looks again for answers changed meanwhile.
    } catch (err) {
      this.#failed(err, batch);
    }
  }

  #failed(err: unknown, batch: AnswerToSend[]): void {
    if (err instanceof ApiError) {
      if (err.code === 'attempt_closed') return this.close();
      if (err.status === 401 || err.status === 403) return this.#set('signed_out');
      if (err.status === 400 || err.status === 422) {
        // Refused content: mark the answer(s) named in the message, keep the rest going.
        const named = batch.filter((a) => err.message.includes(a.questionId));
        for (const a of named.length ? named : batch) this.outbox.reject(a.questionId, a.seq, err.message);
        this.#set('saving');
        return;
      }
    }
    // A network failure, an overloaded server (503, 429) or anything unexpected:
    // keep the answers and retry later.
    this.#failures++;
    const retryAfterMs = err instanceof ApiError && err.retryAfterS !== null ? err.retryAfterS * 1000 : 0;
    const delay = Math.max(retryAfterMs, backoffDelay(this.#failures, this.#opts.baseDelayMs, this.#opts.maxDelayMs, this.#opts.random));
    this.#retryAt = Date.now() + delay;
    this.#set(this.#opts.isOnline() ? 'retrying' : 'offline');
    this.#clearTimer();
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#retryAt = null;
      if (this.#state === 'retrying' || this.#state === 'offline') this.#state = 'idle';
      void this.flush();
    }, delay);
  }

  #clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #set(state: SaveState): void {
    this.#state = state;
    this.#emit();
  }

  #emit(): void {
    const s = this.status();
    for (const fn of this.#listeners) fn(s);
  }
}
