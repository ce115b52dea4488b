/**
 * Runs the calls made during one turn of the event loop as one batch: each
 * `run(input)` resolves with its own result from `runMany`, which answers a
 * whole chunk at once (results in the order of the inputs). For writes and
 * lookups that are not keyed reads — a sign-in, an attempt start — where one
 * statement for the turn's requests replaces one statement per request. A
 * quiet server pays one `setImmediate`; a busy one, whose turns carry many
 * requests, pays one round trip for all of them.
 */
import { TurnBuffer } from './turn-buffer.ts';

interface Pending<I, O> {
  input: I;
  resolve: (out: O) => void;
  reject: (err: unknown) => void;
}

export class TurnBatcher<I, O> {
  readonly #buffer: TurnBuffer<Pending<I, O>>;

  constructor(runMany: (inputs: I[]) => Promise<O[]>, maxBatch = 500) {
    this.#buffer = new TurnBuffer((chunk) => {
      runMany(chunk.map((p) => p.input)).then(
        (outs) => {
          if (outs.length !== chunk.length) {
            const err = new Error(`batch returned ${outs.length} results for ${chunk.length} inputs`);
            for (const p of chunk) p.reject(err);
            return;
          }
          chunk.forEach((p, i) => p.resolve(outs[i]!));
        },
        (err: unknown) => {
          for (const p of chunk) p.reject(err);
        },
      );
    }, maxBatch);
  }

  run(input: I): Promise<O> {
    return new Promise((resolve, reject) => this.#buffer.push({ input, resolve, reject }));
  }
}
