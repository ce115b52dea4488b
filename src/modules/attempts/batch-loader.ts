/**
 * Coalesces reads by key: every `load(key)` made in the same turn of the
 * event loop becomes one query for all of their keys, and concurrent loads of
 * one key share a single lookup. At exam start every API process meets tens
 * of thousands of attempts for the first time within a minute; this turns a
 * query per request into a handful of queries per second.
 */
export class BatchLoader<K, V> {
  #pending = new Map<K, { resolve: (v: V | undefined) => void; reject: (e: unknown) => void }[]>();
  #scheduled = false;

  constructor(
    /** Returns the values found; keys missing from the map resolve to undefined. */
    private readonly loadMany: (keys: K[]) => Promise<Map<K, V>>,
    private readonly maxBatch = 500,
  ) {}

  load(key: K): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      const waiting = this.#pending.get(key);
      if (waiting) waiting.push({ resolve, reject });
      else this.#pending.set(key, [{ resolve, reject }]);
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#dispatch());
      }
    });
  }

  #dispatch(): void {
    this.#scheduled = false;
    const all = this.#pending;
    this.#pending = new Map();
    const keys = [...all.keys()];
    for (let i = 0; i < keys.length; i += this.maxBatch) {
      const batch = keys.slice(i, i + this.maxBatch);
      this.loadMany(batch).then(
        (found) => {
          for (const k of batch) for (const w of all.get(k)!) w.resolve(found.get(k));
        },
        (err: unknown) => {
          for (const k of batch) for (const w of all.get(k)!) w.reject(err);
        },
      );
    }
  }
}
