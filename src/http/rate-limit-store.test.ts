/** The turn-batched Redis store for @fastify/rate-limit, against a real Redis (skipped without REDIS_URL). */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { redisUrl } from '../testing/db.ts';
import { batchedRedisStore, type BatchedStoreOptions } from './rate-limit-store.ts';

const url = redisUrl();

describe('batched rate-limit store (redis)', { skip: url ? false : 'REDIS_URL not set' }, () => {
  const redis = new Redis(url ?? 'redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 1 });
  const prefix = `examday-test-${randomBytes(4).toString('hex')}:rl:`;
  after(async () => {
    if (redis.status === 'ready') {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    }
  });

  /** An app whose routes count per `x-who` header: /three (3 a minute), /again (2 a minute, the window restarts while over). */
  async function appWith(client: Redis, opts: BatchedStoreOptions = {}): Promise<{ app: FastifyInstance; calls: () => number }> {
    const app = Fastify();
    const store = batchedRedisStore(client, prefix, opts);
    // Count the script calls the store makes.
    const counted = client as Redis & { examdayRateLimitMany: (...a: unknown[]) => Promise<unknown> };
    const original = counted.examdayRateLimitMany.bind(client);
    let calls = 0;
    counted.examdayRateLimitMany = (...a: unknown[]) => {
      calls++;
      return original(...a);
    };
    await app.register(rateLimit, { global: false, store });
    const keyGenerator = (req: { headers: Record<string, unknown> }) => String(req.headers['x-who']);
    app.get('/three', { config: { rateLimit: { max: 3, timeWindow: 60_000, keyGenerator } } }, async () => 'ok');
    app.get('/again', { config: { rateLimit: { max: 2, timeWindow: 60_000, keyGenerator, continueExceeding: true } } }, async () => 'ok');
    await app.ready();
    return { app, calls: () => calls };
  }

  it('counts the attempts of one turn in one script call, each key on its own', async () => {
    await redis.connect();
    const { app, calls } = await appWith(redis);
    try {
      const who = ['a', 'a', 'a', 'a', 'a', 'b', 'a', 'b', 'c', 'a'];
      const answers = await Promise.all(who.map((w) => app.inject({ method: 'GET', url: '/three', headers: { 'x-who': w } })));
      const byWho = new Map<string, number[]>();
      answers.forEach((r, i) => byWho.set(who[i]!, [...(byWho.get(who[i]!) ?? []), r.statusCode]));
      assert.deepEqual(byWho.get('a'), [200, 200, 200, 429, 429, 429, 429], 'the first three of a pass');
      assert.deepEqual(byWho.get('b'), [200, 200]);
      assert.deepEqual(byWho.get('c'), [200]);
      assert.ok(calls() <= 2, `${calls()} script calls for 10 attempts made together`);
      const first = answers[0]!;
      assert.equal(first.headers['x-ratelimit-limit'], '3');
      assert.equal(first.headers['x-ratelimit-remaining'], '2');
      const reset = Number(first.headers['x-ratelimit-reset']);
      assert.ok(reset > 0 && reset <= 60, `the window's end in seconds: ${reset}`);
      const refused = answers[3]!;
      assert.ok(Number(refused.headers['retry-after']) > 0, 'a refusal says when to retry');
      // The counters are the ones a second process would see.
      const ttl = await redis.pttl(`${prefix}GET/three-a`);
      assert.ok(ttl > 0 && ttl <= 60_000, `the key expires with the window: ${ttl}`);
      assert.equal(await redis.get(`${prefix}GET/three-a`), '7');
    } finally {
      await app.close();
    }
  });

  it('restarts the window of a key that keeps exceeding, when the route says so', async () => {
    const { app } = await appWith(redis);
    try {
      for (let i = 0; i < 3; i++) await app.inject({ method: 'GET', url: '/again', headers: { 'x-who': 'z' } });
      await redis.pexpire(`${prefix}GET/again-z`, 1000);
      const over = await app.inject({ method: 'GET', url: '/again', headers: { 'x-who': 'z' } });
      assert.equal(over.statusCode, 429);
      const ttl = await redis.pttl(`${prefix}GET/again-z`);
      assert.ok(ttl > 50_000, `an attempt over the limit starts the window again: ${ttl} ms left`);
    } finally {
      await app.close();
    }
  });

  it('counts in process memory, by the same limit, when Redis is gone or a call fails', async () => {
    const gone = new Redis(url ?? '', { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false });
    await gone.connect();
    const fallbacks: string[] = [];
    const { app } = await appWith(gone, { onFallback: (err) => fallbacks.push(err.message) });
    try {
      await gone.quit();
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await app.inject({ method: 'GET', url: '/three', headers: { 'x-who': 'x' } })).statusCode);
      assert.deepEqual(statuses, [200, 200, 200, 429]);
      assert.equal(fallbacks.length, 4, fallbacks.join('; '));
    } finally {
      await app.close();
    }

    // Connected, but the call itself fails (a script error, a timeout): the same.
    const failing = new Redis(url ?? '', { lazyConnect: true, maxRetriesPerRequest: 1 });
    await failing.connect();
    const seen: string[] = [];
    const { app: app2 } = await appWith(failing, { onFallback: (err) => seen.push(err.message) });
    (failing as Redis & { examdayRateLimitMany: () => Promise<never> }).examdayRateLimitMany = () => Promise.reject(new Error('ERR script failed'));
    try {
      const r = await app2.inject({ method: 'GET', url: '/three', headers: { 'x-who': 'y' } });
      assert.equal(r.statusCode, 200);
      assert.equal(r.headers['x-ratelimit-remaining'], '2');
      assert.deepEqual(seen, ['ERR script failed']);
    } finally {
      await app2.close();
      await failing.quit();
    }
  });
});
