/** One suite, every ProviderBudget adapter: in-process always, Redis when REDIS_URL is set. */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { redisUrl } from '../../testing/db.ts';
import { MINUTE_MS, type BudgetLimits, type ProviderBudget } from './index.ts';
import { createMemoryBudget } from './memory.ts';
import { createRedisBudget } from './redis.ts';

interface Target {
  name: string;
  /** Budgets opened with one `shared` name count together (one deployment). */
  open(limits: BudgetLimits, shared?: string): Promise<ProviderBudget>;
}

const targets: Target[] = [{ name: 'memory', open: async (limits) => createMemoryBudget(limits) }];
const url = redisUrl();
if (url) {
  targets.push({
    name: 'redis',
    open: (limits, shared) => createRedisBudget({ url, limits, prefix: shared ?? `examday-test-${randomBytes(4).toString('hex')}` }),
  });
}

const limits = (over: Partial<BudgetLimits> = {}): BudgetLimits => ({
  requestsPerMinute: 10,
  tokensPerMinute: 1_000_000,
  tokensPerDay: 10_000_000,
  ...over,
});

/** Fixed windows: keep a test from straddling a minute boundary, where a second window legitimately opens. */
async function awayFromMinuteEdge(): Promise<void> {
  const left = MINUTE_MS - (Date.now() % MINUTE_MS);
  if (left < 3000) await new Promise((r) => setTimeout(r, left + 50));
}

for (const target of targets) {
  describe(`ProviderBudget conformance: ${target.name}`, () => {
    const opened: ProviderBudget[] = [];
    const open = async (l: BudgetLimits, shared?: string) => {
      const b = await target.open(l, shared);
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
      for (const r of results) if (!r.ok) assert.ok(r.retryAfterMs > 0 && r.retryAfterMs <= MINUTE_MS, `retryAfterMs ${r.retryAfterMs}`);
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
      assert.deepEqual(await b.reserve(1, 400), { ok: true });
      const refused = await b.reserve(1, 200);
      assert.equal(refused.ok, false);
      if (!refused.ok) assert.ok(refused.retryAfterMs > 0 && refused.retryAfterMs <= 86_400_000);
    });

    it('commit corrects the estimate: giving tokens back makes room', async () => {
      await awayFromMinuteEdge();
      const b = await open(limits({ requestsPerMinute: 1000, tokensPerMinute: 1000 }));
      assert.equal((await b.reserve(1, 1000)).ok, true);
      assert.equal((await b.reserve(1, 100)).ok, false);
      await b.commit(-500);
      assert.equal((await b.reserve(1, 400)).ok, true);
      await b.commit(+200);
      assert.equal((await b.reserve(1, 200)).ok, false);
    });

    it('an oversized reservation is clamped to the limit instead of waiting forever', async () => {
      await awayFromMinuteEdge();
      const b = await open(limits({ tokensPerMinute: 100 }));
      assert.equal((await b.reserve(1, 10_000)).ok, true);
      assert.equal((await b.reserve(1, 1)).ok, false);
    });

    if (target.name === 'redis') {
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
