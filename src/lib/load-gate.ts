/**
 * Lets background work wait while the requests it competes with need the
 * CPU. At the end of an exam thousands of submits and their gradings arrive
 * together, and the submits are what candidates wait for.
 *
 * What is measured depends on where the work runs. In the embedded default
 * (`examday all` on PGlite) the job worker, the HTTP server and the database
 * share one thread: the gate watches that event loop (`eventLoopUtilization`,
 * the default). A separate, niced job process (`examday worker`, the job
 * process of `all --processes K`) shares the machine's cores with the API
 * processes and the database instead: it watches how busy the cores are with
 * work at normal priority (`machineCpuUtilization`), which leaves out its own
 * niced work, so it never holds itself back.
 *
 * Utilisation is sampled every `sampleMs`. While it is nearly idle
 * (≤ `idleUtilization`) work passes freely. While it is in use but has room
 * (≤ `maxUtilization`) at most `perSample` callers pass per sample, so a
 * backlog of gradings cannot take the loop over between two samples. Above
 * that, callers wait — but never longer than `maxWaitMs`: background work is
 * delayed, never starved.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';

/** Returns the utilisation (0–1) since its previous call. */
export type UtilizationSampler = () => number;

/** This thread's event loop: the share of time it was running code. */
export function eventLoopUtilization(): UtilizationSampler {
  let last = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const u = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    return u;
  };
}

/**
 * The machine's cores: the share of their time spent on processes at normal
 * or higher priority (user, system and interrupts; not idle, I/O wait, or
 * niced work such as a job process running at a lower priority).
 */
export function machineCpuUtilization(cpus: () => os.CpuInfo[] = os.cpus): UtilizationSampler {
  const totals = (): { busy: number; all: number } => {
    let busy = 0;
    let all = 0;
    for (const c of cpus()) {
      const t = c.times;
      busy += t.user + t.sys + t.irq;
      all += t.user + t.nice + t.sys + t.idle + t.irq;
    }
    return { busy, all };
  };
  let last = totals();
  return () => {
    const now = totals();
    const all = now.all - last.all;
    const u = all > 0 ? (now.busy - last.busy) / all : 0;
    last = now;
    return Math.min(1, Math.max(0, u));
  };
}

export interface LoadGateOptions {
  /** What is measured (default: this thread's event loop). */
  utilization?: UtilizationSampler;
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
  readonly #utilization: UtilizationSampler;
  #waiters: { resolve: () => void; giveUpAt: number }[] = [];
  readonly #timer: NodeJS.Timeout;

  constructor(opts: LoadGateOptions = {}) {
    this.#idle = opts.idleUtilization ?? 0.15;
    this.#max = opts.maxUtilization ?? 0.5;
    this.#perSample = opts.perSample ?? 4;
    this.#maxWaitMs = opts.maxWaitMs ?? 30_000;
    this.#utilization = opts.utilization ?? eventLoopUtilization();
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
    const u = this.#utilization();
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
