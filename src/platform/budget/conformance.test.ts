/** One suite, every ProviderBudget adapter: in-process always, Redis when REDIS_URL is set. */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { redisUrl } from '../../testing/db.ts';
import { DEFAULT_WINDOW_MS, type BudgetLimits, type ProviderBudget } from './index.ts';
import { createMemoryBudget } from './memory.ts';
import { createRedisBudget } from './redis.ts';

interface Target {
  name: string;
  /** Budgets opened with one `shared` name count together (one deployment). */
  open(limits: BudgetLimits, shared?: string, windowMs?: number): Promise<ProviderBudget>;
}

const targets: Target[] = [{ name: 'memory', open: async (limits, _shared, windowMs) => createMemoryBudget(limits, windowMs ? { windowMs } : {}) }];
const url = redisUrl();
if (url) {
  targets.push({
    name: 'redis',
    open: (limits, shared, windowMs) =>
      createRedisBudget({ url, limits, prefix: shared ?? `examday-test-${randomBytes(4).toString('hex')}`, ...(windowMs ? { windowMs } : {}) }),
  });
}

const limits = (over: Partial<BudgetLimits> = {}): BudgetLimits => ({
  requestsPerMinute: 10,
  tokensPerMinute: 1_000_000,
  tokensPerDay: 10_000_000,
  ...over,
});

/** The day window is the UTC day: keep a test from straddling midnight, where a new day legitimately opens. */
async function awayFromMinuteEdge(): Promise<void> {
  const left = 86_400_000 - (Date.now() % 86_400_000);
  if (left < 3000) await new Promise((r) => setTimeout(r, left + 50));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const target of targets) {
  describe(`ProviderBudget conformance: ${target.name}`, () => {
    const opened: ProviderBudget[] = [];
    const open = async (l: BudgetLimits, shared?: string, windowMs?: number) => {
      const b = await target.open(l, shared, windowMs);
      opened.push(b);
      return b;
    };
    after(async () => {
      await Promise.all(opened.map((b) => b.close()));
    });

    it('N concurrent reservers never pass the requests/minute limit', async () => {
      await awayFromMinuteEdge();
      const b = await open(limits({ requestsPerMinute: 10 }));
      const results = await Promise.all(Array.from({ length: 60 }, () => b.reserve(1, 10)));
      const ok = results.filter((r) => r.ok).length;
      assert.equal(ok, 10);
      for (const r of results) if (!r.ok) assert.ok(r.retryAfterMs > 0 && r.retryAfterMs <= DEFAULT_WINDOW_MS, `retryAfterMs ${r.retryAfterMs}`);
    });

    it('N concurrent reservers never pass the tokens/minute limit', async () => {
      await awayFromMinuteEdge();
      const b = await open(limits({ requestsPerMinute: 1000, tokensPerMinute: 1000 }));
      const results = await Promise.all(Array.from({ length: 40 }, () => b.reserve(1, 150)));
      assert.equal(results.filter((r) => r.ok).length, 6);
    });

    it('the day window refuses with a wait up to the end of the UTC day', async () => {
      await awayFromMinuteEdge();
      const b = await open(limits({ requestsPerMinute: 1000, tokensPerMinute: 1000, tokensPerDay: 500 }));
      assert.equal((await b.reserve(1, 400)).ok, true);
      const refused = await b.reserve(1, 200);
      assert.equal(refused.ok, false);
      if (!refused.ok) assert.ok(refused.retryAfterMs > 0 && refused.retryAfterMs <= 86_400_000);
    });

    it('commit corrects the estimate: giving tokens back makes room', async () => {
      await awayFromMinuteEdge();
      const b = await open(limits({ requestsPerMinute: 1000, tokensPerMinute: 1000 }));
      const first = await b.reserve(1, 1000);
      assert.ok(first.ok);
      assert.equal((await b.reserve(1, 100)).ok, false);
      await b.commit(first.id, -500);
      const second = await b.reserve(1, 400);
      assert.ok(second.ok);
      await b.commit(second.id, +200);
      assert.equal((await b.reserve(1, 200)).ok, false);
    });

    it('an oversized reservation is clamped to the limit instead of waiting forever', async () => {
      await awayFromMinuteEdge();
      const b = await open(limits({ tokensPerMinute: 100 }));
      assert.equal((await b.reserve(1, 10_000)).ok, true);
      assert.equal((await b.reserve(1, 1)).ok, false);
    });

    it('the window slides: no span of windowMs ever holds more than the limit, and room comes back as it passes', async () => {
      const windowMs = 1500;
      const b = await open(limits({ requestsPerMinute: 5 }), undefined, windowMs);
      const granted: number[] = [];
      const until = Date.now() + 4 * windowMs;
      while (Date.now() < until) {
        const r = await b.reserve(1, 1);
        if (r.ok) granted.push(Date.now());
        else assert.ok(r.retryAfterMs > 0 && r.retryAfterMs <= windowMs + 1, `retryAfterMs ${r.retryAfterMs}`);
        await sleep(r.ok ? 37 : Math.min(r.ok ? 0 : r.retryAfterMs, 200));
      }
      // At most 5 in any span shorter than the window (50 ms slack for the gap between Redis' clock and ours)...
      for (let i = 0; i + 5 < granted.length; i++) assert.ok(granted[i + 5]! - granted[i]! >= windowMs - 50, `6 grants within ${granted[i + 5]! - granted[i]!} ms`);
      // ...and the window kept granting as it slid, not once per fixed period.
      assert.ok(granted.length >= 15, `${granted.length} grants in four windows`);
    });

    it('a refusal says when room comes back, and it does', async () => {
      const windowMs = 1000;
      const b = await open(limits({ requestsPerMinute: 2 }), undefined, windowMs);
      assert.equal((await b.reserve(1, 1)).ok, true);
      await sleep(300);
      assert.equal((await b.reserve(1, 1)).ok, true);
      const refused = await b.reserve(1, 1);
      assert.equal(refused.ok, false);
      if (refused.ok) return;
      // The first grant leaves the window ~700 ms from now, not a whole window.
      assert.ok(refused.retryAfterMs > 500 && refused.retryAfterMs <= 760, `retryAfterMs ${refused.retryAfterMs}`);
      await sleep(refused.retryAfterMs + 20);
      assert.equal((await b.reserve(1, 1)).ok, true);
    });

    it('usage reports the current windows and counts nothing itself', async () => {
      await awayFromMinuteEdge();
      const b = await open(limits({ requestsPerMinute: 3, tokensPerMinute: 1000, tokensPerDay: 5000 }));
      assert.deepEqual(await b.usage(), { requestsLastMinute: 0, tokensLastMinute: 0, tokensToday: 0 });
      assert.equal((await b.reserve(1, 300)).ok, true);
      const two = await b.reserve(2, 100);
      assert.ok(two.ok);
      await b.commit(two.id, -50);
      for (let i = 0; i < 5; i++) assert.deepEqual(await b.usage(), { requestsLastMinute: 3, tokensLastMinute: 350, tokensToday: 350 });
      // A refused reservation is not counted either.
      assert.equal((await b.reserve(1, 1)).ok, false);
      assert.deepEqual(await b.usage(), { requestsLastMinute: 3, tokensLastMinute: 350, tokensToday: 350 });
      // Giving back more than was counted never reports a negative amount.
      await b.commit(two.id, -10_000);
      assert.deepEqual(await b.usage(), { requestsLastMinute: 3, tokensLastMinute: 300, tokensToday: 300 });
    });

    if (target.name === 'redis') {
      it('usage is shared by processes sharing one Redis', async () => {
        await awayFromMinuteEdge();
        const shared = `examday-test-${randomBytes(4).toString('hex')}`;
        const [one, two] = await Promise.all([1, 2].map(() => open(limits(), shared)));
        await one!.reserve(2, 40);
        await two!.reserve(1, 10);
        assert.deepEqual(await one!.usage(), { requestsLastMinute: 3, tokensLastMinute: 50, tokensToday: 50 });
        assert.deepEqual(await two!.usage(), await one!.usage());
      });

      it('processes sharing one Redis share one budget', async () => {
        await awayFromMinuteEdge();
        const shared = `examday-test-${randomBytes(4).toString('hex')}`;
        const budgets = await Promise.all([1, 2, 3].map(() => open(limits({ requestsPerMinute: 7 }), shared)));
        const results = await Promise.all(Array.from({ length: 45 }, (_, i) => budgets[i % 3]!.reserve(1, 1)));
        assert.equal(results.filter((r) => r.ok).length, 7);
      });
    }
  });
}
