/** One suite, every PubSub adapter: in-process always, Redis when REDIS_URL is set. */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { redisUrl } from '../../testing/db.ts';
import type { PubSub } from './index.ts';
import { createMemoryPubSub } from './memory.ts';
import { createRedisPubSub } from './redis.ts';

interface Target {
  name: string;
  open(): Promise<PubSub>;
}

const targets: Target[] = [{ name: 'memory', open: async () => createMemoryPubSub() }];
const url = redisUrl();
if (url) targets.push({ name: 'redis', open: () => createRedisPubSub({ url, prefix: `examday-test-${randomBytes(4).toString('hex')}` }) });

function collector(): { got: string[]; handler: (m: string) => void; waitFor(n: number): Promise<void> } {
  const got: string[] = [];
  let wake: (() => void) | undefined;
  return {
    got,
    handler: (m) => {
      got.push(m);
      wake?.();
    },
    async waitFor(n) {
      const deadline = Date.now() + 5000;
      while (got.length < n) {
        if (Date.now() > deadline) throw new Error(`only ${got.length} of ${n} messages arrived`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 50);
        });
      }
    },
  };
}

const settle = () => new Promise((r) => setTimeout(r, 100));

for (const target of targets) {
  describe(`PubSub conformance: ${target.name}`, () => {
    const opened: PubSub[] = [];
    const open = async () => {
      const p = await target.open();
      opened.push(p);
      return p;
    };
    after(async () => {
      await Promise.all(opened.map((p) => p.close()));
    });

    it('delivers to every subscriber of a channel, in publish order, and not to other channels', async () => {
      const ps = await open();
      const a = collector();
      const b = collector();
      const other = collector();
      await ps.subscribe('material:1', a.handler);
      await ps.subscribe('material:1', b.handler);
      await ps.subscribe('material:2', other.handler);
      for (let i = 0; i < 20; i++) await ps.publish('material:1', `m${i}`);
      await a.waitFor(20);
      await b.waitFor(20);
      await settle();
      const expected = Array.from({ length: 20 }, (_, i) => `m${i}`);
      assert.deepEqual(a.got, expected);
      assert.deepEqual(b.got, expected);
      assert.deepEqual(other.got, []);
    });

    it('stops delivering after unsubscribe, and unsubscribe is idempotent', async () => {
      const ps = await open();
      const a = collector();
      const b = collector();
      const stopA = await ps.subscribe('chan', a.handler);
      await ps.subscribe('chan', b.handler);
      await ps.publish('chan', 'one');
      await a.waitFor(1);
      await stopA();
      await stopA();
      await ps.publish('chan', 'two');
      await b.waitFor(2);
      await settle();
      assert.deepEqual(a.got, ['one']);
      assert.deepEqual(b.got, ['one', 'two']);
    });

    it('a throwing handler does not stop the others', async () => {
      const ps = await open();
      const good = collector();
      await ps.subscribe('boom', () => {
        throw new Error('handler bug');
      });
      await ps.subscribe('boom', good.handler);
      await ps.publish('boom', 'x');
      await good.waitFor(1);
    });

    it('rejects channel names outside the safe alphabet', async () => {
      const ps = await open();
      await assert.rejects(ps.publish('bad channel', 'x'), RangeError);
    });

    if (target.name === 'redis') {
      it('fans out across separate connections (two API processes)', async () => {
        const prefix = `examday-test-${randomBytes(4).toString('hex')}`;
        const u = url as string;
        const [p1, p2] = await Promise.all([createRedisPubSub({ url: u, prefix }), createRedisPubSub({ url: u, prefix })]);
        opened.push(p1, p2);
        const c = collector();
        await p2.subscribe('author:x', c.handler);
        await p1.publish('author:x', 'hello');
        await c.waitFor(1);
        assert.deepEqual(c.got, ['hello']);
      });
    }
  });
}
