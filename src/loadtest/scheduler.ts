/**
 * One timer for tens of thousands of sleeping candidates: a binary min-heap
 * of wake-up times served by a single setTimeout, instead of one timer
 * object per candidate per wait. Times are `performance.now()` milliseconds.
 */
import { performance } from 'node:perf_hooks';

export class Scheduler {
  #at: number[] = [];
  #fn: (() => void)[] = [];
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #stopped = false;

  /** Resolves at `at` (or at once if past), or when the scheduler stops. */
  sleepUntil(at: number): Promise<void> {
    if (this.#stopped || at <= performance.now()) return Promise.resolve();
    return new Promise<void>((resolve) => this.#push(at, resolve));
  }

  sleep(ms: number): Promise<void> {
    return this.sleepUntil(performance.now() + ms);
  }

  /** Wake every sleeper now and resolve later sleeps immediately. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    const fns = this.#fn;
    this.#at = [];
    this.#fn = [];
    for (const f of fns) f();
  }

  get size(): number {
    return this.#at.length;
  }

  #push(at: number, fn: () => void): void {
    const a = this.#at;
    const f = this.#fn;
    let i = a.length;
    a.push(at);
    f.push(fn);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (a[parent]! <= at) break;
      a[i] = a[parent]!;
      f[i] = f[parent]!;
      i = parent;
    }
    a[i] = at;
    f[i] = fn;
    if (at < this.#timerAt) this.#arm(at);
  }

  #pop(): void {
    const a = this.#at;
    const f = this.#fn;
    const lastAt = a.pop()!;
    const lastFn = f.pop()!;
    const n = a.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && a[r]! < a[l]! ? r : l;
      if (a[c]! >= lastAt) break;
      a[i] = a[c]!;
      f[i] = f[c]!;
      i = c;
    }
    a[i] = lastAt;
    f[i] = lastFn;
  }

  #arm(at: number): void {
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, at - performance.now()));
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    // Wake everything due within the next millisecond (timers are ms-grained).
    const due = performance.now() + 1;
    while (this.#at.length > 0 && this.#at[0]! <= due) {
      const fn = this.#fn[0]!;
      this.#pop();
      fn();
    }
    if (this.#at.length > 0) this.#arm(this.#at[0]!);
  }
}
