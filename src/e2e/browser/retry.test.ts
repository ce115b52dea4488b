/**
 * The web client's retry of a request the server could not take right now
 * (web/src/lib/retry.ts), outside a browser: what is retried, how long it
 * waits, and when it gives up.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, NetworkError } from '../../../web/src/lib/errors.ts';
import { retryTransient } from '../../../web/src/lib/retry.ts';

/** A call that fails with `errors` in turn, then answers 'ok'; and the waits it was given. */
function script(errors: Error[]) {
  const waits: number[] = [];
  let calls = 0;
  const fn = async (): Promise<string> => {
    const e = errors[calls++];
    if (e !== undefined) throw e;
    return 'ok';
  };
  const opts = { random: () => 0.5, sleep: async (ms: number) => void waits.push(ms), baseDelayMs: 1000, maxDelayMs: 8000 };
  return { fn, opts, waits, calls: () => calls };
}

const unavailable = (retryAfterS: number | null) => new ApiError(503, 'unavailable', 'the database cannot be reached; retry in 2 s', retryAfterS);

describe('retryTransient', () => {
  it('tries again after a 503 and after no answer, waiting Retry-After or the backoff, whichever is longer', async () => {
    const s = script([unavailable(2), new NetworkError(), unavailable(null), unavailable(1)]);
    assert.equal(await retryTransient(s.fn, s.opts), 'ok');
    assert.equal(s.calls(), 5);
    // Backoff with random 0.5: 750, 1500, 3000, 6000 ms; Retry-After 2 s beats the first.
    assert.deepEqual(s.waits, [2000, 1500, 3000, 6000]);
  });

  it('does not retry an answer that is final', async () => {
    for (const err of [new ApiError(409, 'session_not_open', 'not open'), new ApiError(500, 'internal', 'x'), new ApiError(429, 'rate_limited', 'slow down', 30), new Error('bug')]) {
      const s = script([err]);
      await assert.rejects(retryTransient(s.fn, s.opts), (e) => e === err);
      assert.equal(s.calls(), 1);
      assert.deepEqual(s.waits, []);
    }
  });

  it('gives up with the last error once the next wait would pass maxWaitMs', async () => {
    const last = unavailable(5);
    const s = script([unavailable(5), unavailable(5), last, unavailable(5)]);
    await assert.rejects(retryTransient(s.fn, { ...s.opts, maxWaitMs: 12_000 }), (e) => e === last);
    assert.deepEqual(s.waits, [5000, 5000]);
    assert.equal(s.calls(), 3);
  });

  it('tells the caller about each retry', async () => {
    const seen: [string, number][] = [];
    const s = script([unavailable(3)]);
    await retryTransient(s.fn, { ...s.opts, onRetry: (err, ms) => seen.push([(err as ApiError).code, ms]) });
    assert.deepEqual(seen, [['unavailable', 3000]]);
  });
});
