/**
 * Load shedding. When a process is past what it can answer quickly, it says
 * so at once — 503 `overloaded` with `Retry-After` — instead of queueing work
 * until every request is slow: a refused autosave costs the client one retry
 * (it keeps the answer until acknowledged); a queue that grows costs everyone
 * their latency. Checks, each optional:
 * - mean event-loop delay over the limit for two seconds running (CPU
 *   saturation; off by default: on a machine whose cores are shared by
 *   several API processes, the database and more, the delay measures their
 *   contention as much as this process's backlog, and refusing did not give
 *   the CPU back — BENCHMARKS.md, fifth pass). A single long pause — start-up, a big import — is not
 *   overload and does not trip it (a one-second sample would). Then a share
 *   of requests is refused, not all of them: the share admitted halves with
 *   every second still over the limit (down to 1/16) and doubles with every
 *   calm one. Refusing everything was a trap: answering 40,000 retrying
 *   clients with 503s kept the loop busy enough to go on refusing everything,
 *   and no candidate got through for minutes;
 * - JS heap in use (@fastify/under-pressure; memory pressure, before the GC
 *   starts thrashing);
 * - requests in progress in this process (a backlog behind the database).
 *
 * Operational routes (/healthz, /readyz, /metrics) are never shed, and a
 * shedding process stays ready: taking it out of the balancer would only move
 * the storm onto its peers. Event streams are long-lived by design, so they
 * do not count as requests in progress.
 */
import underPressure from '@fastify/under-pressure';
import type { FastifyRequest } from 'fastify';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { Counter, type Registry } from 'prom-client';
import { AppError } from './errors.ts';
import type { App } from './types.ts';

export interface SheddingOptions {
  /** Mean event-loop delay limit in ms (0 = off). */
  eventLoopDelayMs: number;
  /** Heap-in-use limit in MB (0 = off; undefined = 90% of V8's heap limit). */
  heapUsedMb: number | undefined;
  /** Requests in progress limit (0 = off). */
  maxInFlight: number;
  retryAfterS: number;
  registry: Registry;
}

const EXEMPT = new Set(['/healthz', '/readyz', '/metrics']);
const isExempt = (req: FastifyRequest): boolean => EXEMPT.has(req.routeOptions.url ?? '');
const isStream = (req: FastifyRequest): boolean => req.routeOptions.url?.endsWith('/events') ?? false;

export async function registerShedding(app: App, opts: SheddingOptions): Promise<void> {
  const name = 'examday_http_shed_total';
  const shedCount =
    (opts.registry.getSingleMetric(name) as Counter<'reason'> | undefined) ??
    new Counter({ name, help: 'Requests answered 503 overloaded, by reason', labelNames: ['reason'], registers: [opts.registry] });

  // Thrown from onRequest hooks: the error handler turns it into problem+json with
  // Retry-After. One error per reason, made once: a refusal must cost as little
  // as possible, and capturing a stack for each was a good part of it.
  const refusals = new Map<string, AppError>();
  const refuse = (reason: string): AppError => {
    shedCount.inc({ reason });
    let err = refusals.get(reason);
    if (!err) {
      err = new AppError('overloaded', `the server is busy (${reason}); retry in ${opts.retryAfterS} s`, { retryAfterS: opts.retryAfterS });
      refusals.set(reason, err);
    }
    return err;
  };

  const heapUsedBytes =
    opts.heapUsedMb === undefined ? Math.floor(getHeapStatistics().heap_size_limit * 0.9) : opts.heapUsedMb * 1024 * 1024;
  await app.register(underPressure, {
    maxHeapUsedBytes: heapUsedBytes,
    sampleInterval: 1000,
    pressureHandler: (req, _reply, type) => {
      if (!isExempt(req)) throw refuse(type);
    },
  });

  if (opts.eventLoopDelayMs > 0) {
    let loop: EventLoopWatch | undefined;
    // Watch only once serving: boot (module loading, migrations) blocks the loop by design.
    app.addHook('onReady', async () => {
      loop = watchEventLoop(opts.eventLoopDelayMs);
    });
    app.addHook('onClose', async () => loop?.close());
    app.addHook('onRequest', (req, _reply, done) => {
      if (loop && !isExempt(req) && !loop.admit()) throw refuse('eventLoopDelay');
      done();
    });
  }

  if (opts.maxInFlight > 0) {
    let inFlight = 0;
    const finished = (): void => {
      inFlight--;
    };
    app.addHook('onRequest', (req, reply, done) => {
      if (isExempt(req) || isStream(req)) return done();
      if (inFlight >= opts.maxInFlight) throw refuse('requestsInFlight');
      inFlight++;
      // 'close' comes once per response, whether it finished or the client went away.
      reply.raw.on('close', finished);
      done();
    });
  }
}

interface EventLoopWatch {
  /** Whether to take the next request: always while calm, a share of them while overloaded. */
  admit(): boolean;
  close(): void;
}

const RESOLUTION_MS = 10;
const WINDOW_MS = 1000;
/** Consecutive windows over the limit before shedding starts. */
const SUSTAINED_WINDOWS = 2;
/** The smallest share of requests admitted while overloaded. */
const MIN_SHARE = 1 / 16;

/**
 * The admitted share of requests, adjusted once per window: halved for each
 * window over the limit once `SUSTAINED_WINDOWS` ran over, doubled for each
 * calm one. Admissions are spread evenly (a credit of `share` per request; a
 * request passes when a whole credit has built up), so the same sequence of
 * windows always admits the same requests.
 */
export class AdmissionShare {
  #over = 0;
  #share = 1;
  #credit = 0;

  get share(): number {
    return this.#share;
  }

  /** Record one window: was the event loop's delay over the limit? */
  window(overLimit: boolean): void {
    this.#over = overLimit ? this.#over + 1 : 0;
    if (this.#over >= SUSTAINED_WINDOWS) this.#share = Math.max(MIN_SHARE, this.#share / 2);
    else if (!overLimit) this.#share = Math.min(1, this.#share * 2);
    if (this.#share === 1) this.#credit = 0;
  }

  admit(): boolean {
    if (this.#share >= 1) return true;
    this.#credit += this.#share;
    if (this.#credit < 1) return false;
    this.#credit -= 1;
    return true;
  }
}

function watchEventLoop(limitMs: number): EventLoopWatch {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  const admission = new AdmissionShare();
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    // A window without a sample was one long block: this timer's own lateness measures it.
    const delay = histogram.count > 0 ? histogram.mean / 1e6 - RESOLUTION_MS : now - last - WINDOW_MS;
    histogram.reset();
    last = now;
    admission.window(delay > limitMs);
  }, WINDOW_MS);
  timer.unref();
  return {
    admit: () => admission.admit(),
    close() {
      clearInterval(timer);
      histogram.disable();
    },
  };
}
