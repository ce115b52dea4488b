/**
 * Collects items pushed during one turn of the event loop and hands them to
 * `run` together, in chunks of at most `maxChunk`, once that turn is over.
 * The building block of the coalescing loaders and batchers: requests that
 * arrive together share one query or one round trip.
 */
export class TurnBuffer<T> {
  #items: T[] = [];
  #scheduled = false;

  constructor(
    private readonly run: (chunk: T[]) => void,
    private readonly maxChunk = Number.POSITIVE_INFINITY,
  ) {}

  push(item: T): void {
    this.#items.push(item);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      const items = this.#items;
      this.#items = [];
      for (let i = 0; i < items.length; i += this.maxChunk) this.run(items.slice(i, i + this.maxChunk));
    });
  }
}
