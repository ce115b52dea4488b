/**
 * Lets background work in a process that also answers requests wait while
 * the event loop is busy. In the embedded default (`examday all` on PGlite)
 * the job worker, the HTTP server and the database share one thread; at the
 * end of an exam thousands of submits and their gradings arrive together,
 * and the submits are what candidates wait for.
 *
 * The loop's utilisation is sampled every `sampleMs`. While it is nearly idle
 * (≤ `idleUtilization`) work passes freely. While it is in use but has room
 * (≤ `maxUtilization`) at most `perSample` callers pass per sample, so a
 * backlog of gradings cannot take the loop over between two samples. Above
 * that, callers wait — but never longer than `maxWaitMs`: background work is
 * delayed, never starved.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

export interface LoadGateOptions {
  /** Utilisation (0–1) up to which callers pass without limit (default 0.15). */
  idleUtilization?: number;
  /** Utilisation above which callers wait for a calmer sample (default 0.5). */
  maxUtilization?: number;
  /** Callers let through per sample while the loop is in use (default 4). */
  perSample?: number;
  /** How often the loop's utilisation is sampled (default 100 ms). */
  sampleMs?: number;
  /** Longest a caller is held back (default 30 s). */
  maxWaitMs?: number;
}

type State = 'idle' | 'room' | 'busy';

export class LoadGate {
  readonly #idle: number;
  readonly #max: number;
  readonly #perSample: number;
  readonly #maxWaitMs: number;
  #state: State = 'idle';
  #passed = 0;
  #last: EventLoopUtilization = performance.eventLoopUtilization();
  #waiters: { resolve: () => void; giveUpAt: number }[] = [];
  readonly #timer: NodeJS.Timeout;

  constructor(opts: LoadGateOptions = {}) {
    this.#idle = opts.idleUtilization ?? 0.15;
    this.#max = opts.maxUtilization ?? 0.5;
    this.#perSample = opts.perSample ?? 4;
    this.#maxWaitMs = opts.maxWaitMs ?? 30_000;
    this.#timer = setInterval(() => this.#sample(), opts.sampleMs ?? 100);
    this.#timer.unref();
  }

  /** The last sample's verdict: idle, in use with room, or busy. */
  get state(): State {
    return this.#state;
  }

  whenCalm(): Promise<void> {
    if (this.#waiters.length === 0 && this.#mayPass()) return Promise.resolve();
    this.#timer.ref(); // someone waits on the next sample
    return new Promise((resolve) => this.#waiters.push({ resolve, giveUpAt: Date.now() + this.#maxWaitMs }));
  }

  #mayPass(): boolean {
    if (this.#state === 'idle') return true;
    if (this.#state === 'room' && this.#passed < this.#perSample) {
      this.#passed++;
      return true;
    }
    return false;
  }

  #sample(): void {
    const now = performance.eventLoopUtilization();
    const u = performance.eventLoopUtilization(now, this.#last).utilization;
    this.#last = now;
    this.#state = u <= this.#idle ? 'idle' : u <= this.#max ? 'room' : 'busy';
    this.#passed = 0;
    if (this.#waiters.length === 0) return;
    const t = Date.now();
    const waiting = this.#waiters;
    this.#waiters = [];
    for (const w of waiting) {
      if (this.#mayPass() || t >= w.giveUpAt) w.resolve();
      else this.#waiters.push(w);
    }
    if (this.#waiters.length === 0) this.#timer.unref();
  }

  /** Stop sampling and let everyone waiting go. */
  close(): void {
    clearInterval(this.#timer);
    for (const w of this.#waiters) w.resolve();
    this.#waiters = [];
  }
}
