/**
 * Arrivals wait; candidates in their exam do not. At 09:00 a storm of
 * sign-ins (sign in, dashboard, session list, booking) lands on processes
 * that are already answering the autosaves of everyone who arrived a minute
 * earlier. Both kinds
 * of request share one event loop, so when the loop falls behind, an autosave
 * queues behind sign-ins — and a candidate in the middle of an exam waits for
 * one who has not started yet.
 *
 * The gate measures how late a 20 ms timer fires (the event loop's lag: how
 * long any callback now waits for its turn). While the lag stays under the
 * target, arrivals pass untouched. Once a tick is late, arrivals are admitted
 * at a budget per tick — half of what passed in the late tick, halved again
 * for every further late window, raised by one per calm tick — and the rest
 * wait in arrival order. Autosaves, the start, the paper, resume and submit
 * never wait here: the start's answer carries the paper, so a start is the
 * exam's first page, and its wait would be the candidate's wait for the
 * paper. An arrival never waits longer than `maxWaitMs`: the storm is spread
 * over a few more seconds, never turned into timeouts.
 *
 * Routes opt in with `config: { arrival: true }`. The gate runs before load
 * shedding, so a waiting arrival does not count as a request in progress.
 *
 * Off unless ARRIVAL_LAG_MS is set: what it bought and cost at 40,000
 * candidates is in BENCHMARKS.md ("eleventh pass", "eighteenth pass").
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { performance } from 'node:perf_hooks';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { App } from './types.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A request of someone arriving (sign-in, dashboard, booking): it may wait while the loop is behind. */
    arrival?: boolean;
  }
}

/** How often the loop's lag is measured, in ms. */
export const TICK_MS = 20;
/** A budget this large is no limit: the gate opens. */
const OPEN_BUDGET = 64;
/** The budget is halved at most once per this many ms: an admission's cost shows a little later. */
const DECREASE_EVERY_MS = 100;

export interface ArrivalGateOptions {
  /** Lag (ms) over which arrivals start to wait. */
  targetLagMs: number;
  /** Longest an arrival waits (ms). */
  maxWaitMs: number;
  /** What time it is (ms); tests drive the gate with their own clock. */
  now?: () => number;
}

interface Waiter {
  release: () => void;
  giveUpAt: number;
}

/**
 * The admission budget, kept apart from timers so that tests can drive it:
 * call `tick(lagMs)` once per tick and `admit()` per arrival.
 */
export class ArrivalGate {
  readonly #target: number;
  readonly #maxWait: number;
  readonly #now: () => number;
  /** Arrivals that may still pass in this tick; Infinity while the gate is open. */
  #budget = Infinity;
  #tokens = Infinity;
  #passedThisTick = 0;
  #lastDecrease = -Infinity;
  #waiters: Waiter[] = [];
  #head = 0;

  constructor(opts: ArrivalGateOptions) {
    this.#target = opts.targetLagMs;
    this.#maxWait = opts.maxWaitMs;
    this.#now = opts.now ?? (() => performance.now());
  }

  get open(): boolean {
    return this.#budget === Infinity;
  }

  /** Arrivals admitted per tick (Infinity while open). */
  get budget(): number {
    return this.#budget;
  }

  get waiting(): number {
    return this.#waiters.length - this.#head;
  }

  /** Pass now (true), or call `release` once admitted (false). */
  admit(release: () => void): boolean {
    if (this.waiting === 0 && this.#tokens > 0) {
      this.#tokens--;
      this.#passedThisTick++;
      return true;
    }
    this.#waiters.push({ release, giveUpAt: this.#now() + this.#maxWait });
    return false;
  }

  /** One tick: adjust the budget to the lag just measured, then admit who may go. */
  tick(lagMs: number): void {
    const t = this.#now();
    if (lagMs > this.#target) {
      if (t - this.#lastDecrease >= DECREASE_EVERY_MS) {
        const from = this.#budget === Infinity ? this.#passedThisTick : this.#budget;
        this.#budget = Math.max(1, Math.floor(from / 2));
        this.#lastDecrease = t;
      }
    } else if (this.#budget !== Infinity) {
      this.#budget = this.#budget + 1 >= OPEN_BUDGET ? Infinity : this.#budget + 1;
    }
    this.#tokens = this.#budget;
    this.#passedThisTick = 0;

    while (this.#head < this.#waiters.length) {
      const w = this.#waiters[this.#head]!;
      if (this.#tokens > 0) {
        this.#tokens--;
        this.#passedThisTick++;
      } else if (t < w.giveUpAt) break;
      this.#head++;
      w.release();
    }
    // Drop the released prefix now and then, not on every tick.
    if (this.#head > 1024 && this.#head * 2 > this.#waiters.length) {
      this.#waiters = this.#waiters.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Let everyone waiting go (shutdown). */
  releaseAll(): void {
    const waiting = this.#waiters.slice(this.#head);
    this.#waiters = [];
    this.#head = 0;
    for (const w of waiting) w.release();
  }
}

export interface ArrivalGateRegistration {
  targetLagMs: number;
  maxWaitMs: number;
  registry: Registry;
  /** Tick period in ms (default TICK_MS); tests stop the timer with a long one and tick by hand. */
  tickMs?: number;
}

/** Adds the gate to every route with `config.arrival` (targetLagMs 0 = off). */
export function registerArrivalGate(app: App, opts: ArrivalGateRegistration, gate = new ArrivalGate(opts)): void {
  if (opts.targetLagMs <= 0) return;
  const tickMs = opts.tickMs ?? TICK_MS;
  const waitName = 'examday_http_arrival_wait_seconds';
  const waited =
    (opts.registry.getSingleMetric(waitName) as Histogram | undefined) ??
    new Histogram({
      name: waitName,
      help: 'How long sign-in, dashboard and booking requests waited at the arrival gate while the event loop was behind',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [opts.registry],
    });
  const heldName = 'examday_http_arrivals_held_total';
  const held =
    (opts.registry.getSingleMetric(heldName) as Counter | undefined) ??
    new Counter({ name: heldName, help: 'Arrivals that waited at the arrival gate', registers: [opts.registry] });

  let timer: NodeJS.Timeout | undefined;
  app.addHook('onReady', (done) => {
    let last = performance.now();
    timer = setInterval(() => {
      const t = performance.now();
      gate.tick(Math.max(0, t - last - tickMs));
      last = t;
    }, tickMs);
    timer.unref();
    done();
  });
  app.addHook('onClose', (_app, done) => {
    clearInterval(timer);
    gate.releaseAll();
    done();
  });

  app.addHook('onRequest', (req: FastifyRequest, _reply: FastifyReply, done) => {
    if (req.routeOptions.config.arrival !== true) return done();
    const since = performance.now();
    const passed = gate.admit(() => {
      waited.observe((performance.now() - since) / 1000);
      done();
    });
    if (passed) done();
    else held.inc();
  });
}
