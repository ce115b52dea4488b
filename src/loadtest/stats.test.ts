/** Units of the load harness: merging histograms across processes, backoff, HTTP parsing, target checks. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isRetryable, retryDelayMs } from './backoff.ts';
import { decodeChunked } from './http.ts';
import { Scheduler } from './scheduler.ts';
import { Aggregate, Recorder, newHistogram, summarize } from './stats.ts';
import { TargetError, isLoopback, resolveTarget, sourceAddresses } from './target.ts';

describe('load harness stats', () => {
  it('counts a paper that came with a start as a paper load, not as a request', () => {
    const r = new Recorder();
    r.ok('start', 40);
    r.paperLoaded(40);
    r.ok('paper', 10);
    r.paperLoaded(30); // in the next interval, alone: still sent
    const agg = new Aggregate();
    const first = r.flush();
    agg.add(first);
    agg.add(r.flush());
    assert.equal(summarize(agg.hists.get('paper')).count, 3, 'every paper load has its latency');
    assert.equal(agg.requests(), 2, 'one start and one GET paper were sent');
    const eps = agg.endpointSummary();
    assert.equal(eps.paper?.ok, 1);
    assert.equal(eps.paper?.count, 3);
    assert.ok(Math.abs((eps.paper?.max_ms ?? 0) - 40) <= 0.1);
  });

  it('merges interval histograms from several processes into exact run percentiles', () => {
    const a = new Recorder();
    const b = new Recorder();
    const all = newHistogram();
    // Process a: 1..900 ms; process b: 901..1000 ms (the slow tail lives in one process).
    for (let ms = 1; ms <= 1000; ms++) {
      (ms <= 900 ? a : b).ok('autosave', ms);
      all.recordValue(ms * 1000);
    }
    a.ok('paper', 5);
    a.error('autosave', '503 overloaded');
    b.error('autosave', '503 overloaded');
    b.error('autosave', 'timeout');
    b.failed('autosave');
    b.retry('autosave');

    const agg = new Aggregate();
    agg.add(a.flush());
    agg.add(b.flush());
    const s = summarize(agg.hists.get('autosave'));
    const want = summarize(all);
    assert.equal(s.count, 1000);
    // Exact merge: the same percentiles as one histogram of every value (max is bucket-precise, 3 digits).
    assert.deepEqual({ ...s, max_ms: 0 }, { ...want, max_ms: 0 });
    assert.ok(Math.abs(s.max_ms - 1000) <= 1, `max ${s.max_ms}`);
    assert.ok(Math.abs(s.p99_ms - 990) <= 1, `p99 ${s.p99_ms}`);
    assert.ok(Math.abs(s.p50_ms - 500) <= 1, `p50 ${s.p50_ms}`);
    assert.deepEqual(Object.fromEntries(agg.errorsByKey), { '503 overloaded': 2, timeout: 1 });
    assert.deepEqual(Object.fromEntries(agg.errorsByEndpoint), { 'autosave 503 overloaded': 2, 'autosave timeout': 1 });
    assert.equal(agg.requests(), 1001 + 3);
    assert.equal(agg.errors(), 3);
    assert.equal(agg.failedOps(), 1);
    assert.deepEqual(agg.counts.get('autosave'), { ok: 1000, errors: 3, failed: 1, retries: 1 });
    assert.equal(agg.all().totalCount, 1001);
  });

  it('starts a new interval after each flush', () => {
    const r = new Recorder();
    r.ok('login', 10);
    assert.equal(r.flush().endpoints.login?.ok, 1);
    const next = r.flush();
    assert.deepEqual(next.endpoints, {});
    assert.deepEqual(next.errorsByKey, {});
  });

  it('backs off with full jitter, honours Retry-After, retries only what can succeed later', () => {
    assert.equal(retryDelayMs(0, undefined, () => 0.999), 0.999 * 250);
    assert.equal(retryDelayMs(3, undefined, () => 0.5), 0.5 * 2000);
    assert.equal(retryDelayMs(20, undefined, () => 1), 10_000);
    assert.equal(retryDelayMs(0, undefined, () => 0), 0);
    assert.equal(retryDelayMs(0, 2, () => 0), 2000);
    assert.ok(retryDelayMs(1, 2, () => 1) === 2500);
    for (const s of [0, 408, 429, 500, 502, 503, 504]) assert.ok(isRetryable(s), String(s));
    for (const s of [400, 401, 403, 404, 409, 422]) assert.ok(!isRetryable(s), String(s));
  });

  it('decodes chunked bodies only once complete', () => {
    const raw = Buffer.from('4\r\nWiki\r\n6;x=y\r\npedia \r\n0\r\n\r\n');
    assert.equal(decodeChunked(raw)?.toString(), 'Wikipedia ');
    assert.equal(decodeChunked(raw.subarray(0, 12)), undefined);
  });

  it('wakes sleepers in time order from one timer', async () => {
    const s = new Scheduler();
    const order: number[] = [];
    const t = performance.now();
    await Promise.all([30, 10, 20, 0].map((d) => s.sleepUntil(t + d).then(() => order.push(d))));
    assert.deepEqual(order, [0, 10, 20, 30]);
  });
});

describe('load harness target', () => {
  it('accepts loopback only', async () => {
    assert.ok(isLoopback('127.0.0.1'));
    assert.ok(isLoopback('127.45.0.9'));
    assert.ok(isLoopback('::1'));
    assert.ok(isLoopback('::ffff:127.0.0.1'));
    assert.ok(!isLoopback('10.0.0.1'));
    assert.ok(!isLoopback('192.168.1.5'));
    assert.ok(!isLoopback('8.8.8.8'));
    const t = await resolveTarget('http://localhost:3000');
    assert.ok(isLoopback(t.address));
    assert.equal(t.basePath, '/api/v1');
    assert.equal((await resolveTarget('http://[::1]:3000/exam/')).basePath, '/exam/api/v1');
    await assert.rejects(resolveTarget('http://10.1.2.3:3000'), (e: unknown) => {
      assert.ok(e instanceof TargetError);
      assert.match(e.message, /only sends load to this machine.*loopback.*got 10\.1\.2\.3/);
      return true;
    });
    await assert.rejects(resolveTarget('https://127.0.0.1'), /http:\/\//);
  });

  it('spreads many connections over several source addresses', async () => {
    const t = await resolveTarget('http://127.0.0.1:3000');
    assert.deepEqual(sourceAddresses(t, 5000, undefined), []);
    assert.deepEqual(sourceAddresses(t, 20_000, undefined), ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5']);
    assert.equal(sourceAddresses(t, 40_000, undefined).length, 8);
    assert.deepEqual(sourceAddresses(t, 10, 2), ['127.0.0.2', '127.0.0.3']);
  });
});
