/**
 * At most N lines a second of one kind of warning. When the server is
 * overloaded every request is slow and every query is slow, and a line for
 * each (a synchronous write per line) would add work exactly when there is no
 * CPU to spare. The lines held back are counted and reported with the next
 * line written; `/metrics` counts every event either way.
 */
export class LogBudget {
  #windowStart = -Infinity;
  #written = 0;
  #held = 0;

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * -1: hold this line back. Otherwise write it, and say how many lines were
   * held back since the last one written (0 most of the time).
   */
  take(): number {
    const t = this.now();
    if (t - this.#windowStart >= 1000) {
      this.#windowStart = t;
      this.#written = 0;
    }
    if (this.#written >= this.perSecond) {
      this.#held++;
      return -1;
    }
    this.#written++;
    const held = this.#held;
    this.#held = 0;
    return held;
  }
}
