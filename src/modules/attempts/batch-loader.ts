/**
 * Coalesces reads by key: every `load(key)` made in the same turn of the
 * event loop becomes one query for all of their keys, and concurrent loads of
 * one key share a single lookup. At exam start every API process meets tens
 * of thousands of attempts for the first time within a minute; this turns a
 * query per request into a handful of queries per second.
 */
import { TurnBuffer } from '../../lib/turn-buffer.ts';

type Waiter<V> = { resolve: (v: V | undefined) => void; reject: (e: unknown) => void };

export class BatchLoader<K, V> {
  #pending = new Map<K, Waiter<V>[]>();
  readonly #keys: TurnBuffer<{ key: K; waiters: Waiter<V>[] }>;

  constructor(
    /** Returns the values found; keys missing from the map resolve to undefined. */
    loadMany: (keys: K[]) => Promise<Map<K, V>>,
    maxBatch = 500,
  ) {
    this.#keys = new TurnBuffer((chunk) => {
      // Sent: a later load of these keys needs a query of its own. (The
      // setImmediate below is not enough: an in-process database such as
      // PGlite can answer before it runs, and a load joining an answered
      // batch would wait forever.)
      for (const c of chunk) if (this.#pending.get(c.key) === c.waiters) this.#pending.delete(c.key);
      loadMany(chunk.map((c) => c.key)).then(
        (found) => {
          for (const c of chunk) for (const w of c.waiters) w.resolve(found.get(c.key));
        },
        (err: unknown) => {
          for (const c of chunk) for (const w of c.waiters) w.reject(err);
        },
      );
    }, maxBatch);
  }

  load(key: K): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      const waiting = this.#pending.get(key);
      if (waiting) {
        waiting.push({ resolve, reject });
        return;
      }
      const waiters = [{ resolve, reject }];
      this.#pending.set(key, waiters);
      this.#keys.push({ key, waiters });
      // Later loads of this key join until the turn is over and the query is sent.
      setImmediate(() => {
        if (this.#pending.get(key) === waiters) this.#pending.delete(key);
      });
    });
  }
}
