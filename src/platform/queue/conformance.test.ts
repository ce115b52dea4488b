/**
 * The JobQueue contract, run against every adapter: the SQL queue on each
 * database target (PGlite always, PostgreSQL with DATABASE_URL) and BullMQ
 * when REDIS_URL is set. Every test uses its own queue name, so tests share a
 * store without seeing each other's jobs.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { dbTargets, redisUrl, type DbTarget } from '../../testing/db.ts';
import type { Db } from '../db/index.ts';
import { createBullmqQueue } from './bullmq.ts';
import { RetryLaterError, backoffDelay, type Job, type JobHandler, type JobQueue, type QueueCounts } from './index.ts';
import { createSqlQueue } from './sql.ts';

interface Backend {
  name: string;
  /** Prepare the shared store: a migrated database, or a Redis key prefix. */
  setup(): Promise<void>;
  /** A new queue instance over the same store, as another process would open. `idlePollMs` only matters to polling adapters. */
  open(opts?: { idlePollMs?: number }): JobQueue;
  teardown(): Promise<void>;
  /** Errors the adapters reported through `onError`; a correct run reports none. */
  errors: unknown[];
}

function sqlBackend(target: DbTarget): Backend {
  let db: Db | undefined;
  const instances: JobQueue[] = [];
  const errors: unknown[] = [];
  return {
    name: `sql on ${target.name}`,
    errors,
    async setup() {
      db = await target.open();
    },
    open(opts) {
      assert.ok(db, 'setup() first');
      const q = createSqlQueue(db, { pollMs: opts?.idlePollMs ?? 25, onError: (err) => errors.push(err) });
      instances.push(q);
      return q;
    },
    async teardown() {
      await Promise.all(instances.map((q) => q.close()));
      await db?.close();
    },
  };
}

function bullmqBackend(url: string): Backend {
  const prefix = `examday-test-${randomBytes(4).toString('hex')}`;
  const instances: JobQueue[] = [];
  const errors: unknown[] = [];
  return {
    name: 'bullmq on redis',
    errors,
    async setup() {},
    open() {
      const q = createBullmqQueue({ url, prefix, onError: (err) => errors.push(err) });
      instances.push(q);
      return q;
    },
    async teardown() {
      await Promise.all(instances.map((q) => q.close()));
      const redis = new Redis(url);
      try {
        for await (const keys of redis.scanStream({ match: `${prefix}:*`, count: 500 })) {
          if ((keys as string[]).length > 0) await redis.del(...(keys as string[]));
        }
      } finally {
        await redis.quit();
      }
    },
  };
}

/** Polls until `check` returns something truthy; fails with `what` on timeout. */
async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(15);
  }
}

/** A handler from a synchronous body; a throw still arrives as a rejection, as from any async handler. */
const handle =
  (body: (job: Job) => unknown): JobHandler =>
  (job) =>
    new Promise<void>((resolve) => {
      body(job);
      resolve();
    });

const freshQueue = (): string => `t-${randomBytes(5).toString('hex')}`;
const noCounts: QueueCounts = { waiting: 0, delayed: 0, active: 0, completed: 0, dead: 0 };

describe('backoffDelay', () => {
  it('draws from [0, base * 2^(attempt-1)) and caps at one hour', () => {
    assert.equal(backoffDelay(100, 1, () => 0), 0);
    assert.equal(backoffDelay(100, 1, () => 0.999), 99);
    assert.equal(backoffDelay(100, 3, () => 0.999), 399);
    assert.equal(backoffDelay(1000, 40, () => 0.5), 1_800_000);
  });
});

const url = redisUrl();
const backends: Backend[] = [...dbTargets().map(sqlBackend), ...(url ? [bullmqBackend(url)] : [])];

for (const backend of backends) {
  describe(`JobQueue conformance: ${backend.name}`, { timeout: 60_000 }, () => {
    let queue: JobQueue;

    before(async () => {
      await backend.setup();
      queue = backend.open();
    });
    after(() => backend.teardown());

    it('runs an enqueued job exactly once with its data intact', async () => {
      const name = freshQueue();
      const data = { candidate: 'Zoë ✓', score: 17.5, answers: [1, 'two', null, true], nested: { empty: {} } };
      const first = await queue.enqueue(name, 'grade', data);
      const second = await queue.enqueue(name, 'note', 'a bare string is JSON too');
      assert.equal(first.created, true);
      assert.notEqual(first.id, second.id);

      const seen: Job[] = [];
      const worker = queue.work(name, handle((job) => seen.push(job)), { concurrency: 4 });
      await waitFor('both completed', async () => (await queue.counts(name)).completed === 2);
      await sleep(150); // room for a duplicate run to show up
      await worker.close();

      assert.equal(seen.length, 2);
      const graded = seen.find((j) => j.id === first.id);
      assert.deepEqual(graded, { id: first.id, queue: name, name: 'grade', data, attempt: 1, maxAttempts: 5 });
      assert.equal(seen.find((j) => j.id === second.id)?.data, 'a bare string is JSON too');

      const info = await queue.getJob(name, first.id);
      assert.ok(info);
      assert.equal(info.state, 'completed');
      assert.equal(info.attempts, 1);
      assert.equal(info.lastError, null);
      assert.deepEqual(info.data, data);
      assert.ok(Math.abs(info.createdAt.getTime() - Date.now()) < 60_000, 'createdAt is a real creation time');
      assert.equal(await queue.getJob(name, '987654321'), null);
      assert.equal(await queue.getJob(`${name}-other`, first.id), null);
    });

    it('keeps jobs durable across queue instances', async () => {
      const name = freshQueue();
      const producer = backend.open();
      const { id } = await producer.enqueue(name, 'extract', { page: 3 });
      await producer.close();

      const consumer = backend.open();
      const seen: Job[] = [];
      consumer.work(name, handle((job) => seen.push(job)));
      await waitFor('completed by the new instance', async () => (await consumer.getJob(name, id))?.state === 'completed');
      await consumer.close();
      assert.deepEqual(
        seen.map((j) => [j.id, j.data]),
        [[id, { page: 3 }]],
      );
    });

    it('starts a job enqueued in this process without waiting for the next poll', async () => {
      const name = freshQueue();
      const sleepy = backend.open({ idlePollMs: 60_000 });
      let ranAt = 0;
      const worker = sleepy.work(name, handle(() => (ranAt = Date.now())));
      await sleep(300); // the worker has polled once, found nothing, and gone to sleep
      const enqueuedAt = Date.now();
      await queue.enqueue(name, 'urgent', {});
      await waitFor('ran', () => ranAt > 0, 5_000);
      await worker.close();
      assert.ok(ranAt - enqueuedAt < 1_000, `started ${ranAt - enqueuedAt} ms after enqueue`);
    });

    it('retries a failing job with backoff and records the error between tries', async () => {
      const name = freshQueue();
      const attempts: number[] = [];
      let seenBetweenTries: unknown;
      const worker = queue.work(name, async (job) => {
        attempts.push(job.attempt);
        if (job.attempt === 2) seenBetweenTries = await queue.getJob(name, job.id);
        if (job.attempt < 3) throw new Error(`flaky ${job.attempt}`);
      });
      const { id } = await queue.enqueue(name, 'flaky', {}, { maxAttempts: 4, backoffMs: 20 });
      const info = await waitFor('completed', async () => {
        const j = await queue.getJob(name, id);
        return j?.state === 'completed' ? j : null;
      });
      await worker.close();
      assert.deepEqual(attempts, [1, 2, 3]);
      assert.equal(info.attempts, 3);
      assert.ok(seenBetweenTries && typeof seenBetweenTries === 'object');
      const between = seenBetweenTries as { state: string; attempts: number; lastError: string | null };
      assert.equal(between.state, 'active');
      assert.equal(between.attempts, 2);
      assert.equal(between.lastError, 'flaky 1');
    });

    it('dead-letters after maxAttempts, lists the job, and revives it with a fresh budget', async () => {
      const name = freshQueue();
      let healthy = false;
      const attempts: number[] = [];
      const worker = queue.work(
        name,
        handle((job) => {
          attempts.push(job.attempt);
          if (!healthy) throw new Error(`boom ${job.attempt}`);
        }),
      );
      const { id } = await queue.enqueue(name, 'doomed', { doc: 'x.pdf' }, { maxAttempts: 2, backoffMs: 20 });

      const dead = await waitFor('dead', async () => {
        const j = await queue.getJob(name, id);
        return j?.state === 'dead' ? j : null;
      });
      assert.deepEqual(attempts, [1, 2]);
      assert.equal(dead.attempts, 2);
      assert.equal(dead.lastError, 'boom 2');
      assert.ok(dead.finishedAt && dead.finishedAt >= dead.createdAt && Date.now() - dead.finishedAt.getTime() < 60_000, `finishedAt ${String(dead.finishedAt)}`);
      assert.deepEqual(await queue.counts(name), { ...noCounts, dead: 1 });

      const listed = await queue.listDead(name);
      assert.deepEqual(
        listed.map((j) => [j.id, j.state, j.lastError, j.data]),
        [[id, 'dead', 'boom 2', { doc: 'x.pdf' }]],
      );

      healthy = true;
      assert.equal(await queue.retryDead(name, id), true);
      await waitFor('revived job completed', async () => (await queue.getJob(name, id))?.state === 'completed');
      await worker.close();
      assert.deepEqual(attempts, [1, 2, 1], 'the revived job starts again at attempt 1');
      assert.deepEqual(await queue.listDead(name), []);
      assert.equal(await queue.retryDead(name, id), false, 'a completed job is not dead');
      assert.equal(await queue.retryDead(name, '987654321'), false);
    });

    it('runs jobs without priority first, then lower priority numbers first', async () => {
      const name = freshQueue();
      await queue.enqueue(name, 'p10', {}, { priority: 10 });
      await queue.enqueue(name, 'none-a', {});
      await queue.enqueue(name, 'p1', {}, { priority: 1 });
      await queue.enqueue(name, 'p5', {}, { priority: 5 });
      await queue.enqueue(name, 'none-b', {});

      const order: string[] = [];
      const worker = queue.work(name, handle((job) => order.push(job.name)), { concurrency: 1 });
      await waitFor('all five ran', () => order.length === 5);
      await worker.close();
      assert.deepEqual(order, ['none-a', 'none-b', 'p1', 'p5', 'p10']);
    });

    it('holds delayed jobs back until they are due', async () => {
      const name = freshQueue();
      const t0 = Date.now();
      const byDelay = await queue.enqueue(name, 'delay', {}, { delayMs: 800 });
      const byRunAt = await queue.enqueue(name, 'runAt', {}, { runAt: new Date(t0 + 800) });
      assert.equal((await queue.getJob(name, byDelay.id))?.state, 'delayed');
      assert.equal((await queue.getJob(name, byRunAt.id))?.state, 'delayed');
      assert.deepEqual(await queue.counts(name), { ...noCounts, delayed: 2 });

      const ranAt = new Map<string, number>();
      const worker = queue.work(name, handle((job) => ranAt.set(job.name, Date.now())), { concurrency: 2 });
      await sleep(400);
      assert.equal(ranAt.size, 0, 'nothing runs before it is due');
      await waitFor('both ran', () => ranAt.size === 2);
      await worker.close();
      for (const [job, at] of ranAt) assert.ok(at - t0 >= 750, `${job} ran after ${at - t0} ms, before its 800 ms delay`);
    });

    it('returns the existing job for a repeated idempotency key', async () => {
      const name = freshQueue();
      const key = 'autosubmit:42'; // BullMQ rejects ':' in job ids (its key separator), so the adapter must encode it
      const first = await queue.enqueue(name, 'submit', { v: 1 }, { idempotencyKey: key, delayMs: 60_000 });
      assert.equal(first.created, true);
      assert.deepEqual(await queue.enqueue(name, 'submit', { v: 2 }, { idempotencyKey: key }), { id: first.id, created: false });
      assert.deepEqual((await queue.getJob(name, first.id))?.data, { v: 1 }, 'the first job is kept as it was');

      const racing = await Promise.all(
        Array.from({ length: 5 }, () => queue.enqueue(name, 'race', {}, { idempotencyKey: 'race', delayMs: 60_000 })),
      );
      assert.equal(new Set(racing.map((r) => r.id)).size, 1, 'concurrent enqueues with one key make one job');
      assert.equal(racing.filter((r) => r.created).length, 1, 'exactly one of them reports created');

      const numericKey = await queue.enqueue(name, 'n', {}, { idempotencyKey: '12345', delayMs: 60_000 });
      assert.equal(numericKey.created, true);
      const otherQueue = await queue.enqueue(`${name}-b`, 'submit', {}, { idempotencyKey: key, delayMs: 60_000 });
      assert.equal(otherQueue.created, true, 'keys are per queue');
      assert.deepEqual(await queue.counts(name), { ...noCounts, delayed: 3 });
    });

    it('stores many jobs at once, skipping idempotency keys it already knows', async () => {
      const name = freshQueue();
      const known = await queue.enqueue(name, 'grade', { n: 0 }, { idempotencyKey: 'grade-0', priority: 1 });
      await queue.enqueueMany(name, []);
      await queue.enqueueMany(name, [
        { name: 'grade', data: { n: 0, again: true }, opts: { idempotencyKey: 'grade-0', priority: 1 } },
        { name: 'grade', data: { n: 1 }, opts: { idempotencyKey: 'grade:1', priority: 1 } },
        { name: 'grade', data: { n: 1, twice: true }, opts: { idempotencyKey: 'grade:1', priority: 1 } },
        { name: 'grade', data: { n: 2 }, opts: { priority: 1 } },
        { name: 'later', data: { n: 3 }, opts: { delayMs: 60_000 } },
      ]);
      assert.deepEqual(await queue.counts(name), { ...noCounts, waiting: 3, delayed: 1 });
      await assert.rejects(queue.enqueueMany(name, [{ name: 'bad', data: {}, opts: { priority: -1 } }]), RangeError);

      const seen: Job[] = [];
      const worker = queue.work(name, handle((job) => seen.push(job)), { concurrency: 2 });
      await waitFor('three completed', async () => (await queue.counts(name)).completed === 3);
      await worker.close();
      assert.deepEqual(
        seen.map((j) => j.data).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
        [{ n: 0 }, { n: 1 }, { n: 2 }],
        'the stored job of a repeated key is the first one',
      );
      assert.equal((await queue.getJob(name, known.id))?.state, 'completed');
    });

    it('stores more jobs in one call than one statement can bind, a key repeated across them once', async () => {
      const name = freshQueue();
      const jobs = Array.from({ length: 8000 }, (_, n) => ({ name: 'grade', data: { n }, opts: { idempotencyKey: `g-${n}`, priority: 1 } }));
      jobs.push({ name: 'grade', data: { n: -1 }, opts: { idempotencyKey: 'g-0', priority: 1 } });
      await queue.enqueueMany(name, jobs);
      assert.deepEqual(await queue.counts(name), { ...noCounts, waiting: 8000 });
    });

    it("runs a crashed worker's job again once its lease expires", async () => {
      const name = freshQueue();
      const crashing = backend.open();
      let startedOnCrashed = 0;
      const doomed = crashing.work(
        name,
        async () => {
          startedOnCrashed++;
          await new Promise<never>(() => {}); // the process "dies" mid-job
        },
        { leaseMs: 500 },
      );
      const { id } = await queue.enqueue(name, 'fragile', { n: 1 });
      await waitFor('claimed by the crashing worker', () => startedOnCrashed === 1);
      assert.equal(typeof doomed.kill, 'function', 'adapter implements kill()');
      await doomed.kill?.();
      assert.equal((await queue.getJob(name, id))?.state, 'active', 'the lease still holds the job');

      const rescuer = backend.open();
      const seen: Job[] = [];
      rescuer.work(name, handle((job) => seen.push(job)), { leaseMs: 500 });
      await waitFor('completed by the second worker', async () => (await queue.getJob(name, id))?.state === 'completed', 15_000);
      await rescuer.close();
      assert.equal(startedOnCrashed, 1);
      assert.equal(seen.length, 1);
      assert.deepEqual(seen[0]?.data, { n: 1 });
      // Documented difference: the SQL queue spends an attempt per claim; BullMQ does not count stalls.
      assert.equal(seen[0]?.attempt, queue.kind === 'sql' ? 2 : 1);
    });

    it('keeps renewing the lease of a handler that outlives it', async () => {
      const name = freshQueue();
      const other = backend.open();
      let runs = 0;
      const slow = async (): Promise<void> => {
        runs++;
        await sleep(1500);
      };
      const a = queue.work(name, slow, { leaseMs: 600 });
      const b = other.work(name, slow, { leaseMs: 600 });
      const { id } = await queue.enqueue(name, 'slow', {});
      await waitFor('completed', async () => (await queue.getJob(name, id))?.state === 'completed');
      await sleep(300);
      await Promise.all([a.close(), b.close()]);
      assert.equal(runs, 1, 'a live worker keeps its job; nobody takes it over');
    });

    it('reschedules on RetryLaterError without spending an attempt', async () => {
      const name = freshQueue();
      const runs: { attempt: number; at: number }[] = [];
      const worker = queue.work(
        name,
        handle((job) => {
          runs.push({ attempt: job.attempt, at: Date.now() });
          if (runs.length === 1) throw new RetryLaterError(600, 'provider said Retry-After: 0.6');
          if (runs.length === 2) throw new RetryLaterError(150);
        }),
      );
      // One attempt only: had RetryLaterError spent it, the job would be dead.
      const { id } = await queue.enqueue(name, 'ai', {}, { maxAttempts: 1 });
      const waiting = await waitFor('rescheduled', async () => {
        const j = await queue.getJob(name, id);
        return runs.length === 1 && j?.state === 'delayed' ? j : null;
      });
      assert.equal(waiting.attempts, 0);
      await waitFor('completed', async () => (await queue.getJob(name, id))?.state === 'completed');
      await worker.close();
      assert.deepEqual(
        runs.map((r) => r.attempt),
        [1, 1, 1],
      );
      const [r1, r2, r3] = runs.map((r) => r.at) as [number, number, number];
      assert.ok(r2 - r1 >= 550, `second run after ${r2 - r1} ms, asked for 600`);
      assert.ok(r3 - r2 >= 120, `third run after ${r3 - r2} ms, asked for 150`);
      assert.equal((await queue.getJob(name, id))?.attempts, 1);
    });

    it('reports counts for every state', async () => {
      const name = freshQueue();
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      // Everything is enqueued before the worker starts, so FIFO order decides who runs.
      for (const n of ['fail', 'ok', 'block', 'wait-1', 'wait-2']) await queue.enqueue(name, n, {}, { maxAttempts: 1 });
      await queue.enqueue(name, 'later', {}, { delayMs: 60_000 });
      assert.deepEqual(await queue.counts(name), { ...noCounts, waiting: 5, delayed: 1 });

      const running = queue.work(
        name,
        async (job) => {
          if (job.name === 'fail') throw new Error('no');
          if (job.name === 'block') await gate;
        },
        { concurrency: 1 },
      );
      await waitFor('one blocked, one dead, one done', async () => {
        const c = await queue.counts(name);
        return c.active === 1 && c.dead === 1 && c.completed === 1;
      });
      assert.deepEqual(await queue.counts(name), { waiting: 2, delayed: 1, active: 1, completed: 1, dead: 1 });
      release();
      await waitFor('the rest completed', async () => (await queue.counts(name)).completed === 4);
      await running.close();
      assert.deepEqual(await queue.counts(name), { ...noCounts, delayed: 1, completed: 4, dead: 1 });
    });

    it('runs at most `concurrency` handlers at once, and uses all of them', async () => {
      const name = freshQueue();
      let inFlight = 0;
      let peak = 0;
      let done = 0;
      for (let i = 0; i < 6; i++) await queue.enqueue(name, `j${i}`, {});
      const worker = queue.work(
        name,
        async () => {
          peak = Math.max(peak, ++inFlight);
          await sleep(150);
          inFlight--;
          done++;
        },
        { concurrency: 3 },
      );
      await waitFor('all done', () => done === 6);
      await worker.close();
      assert.equal(peak, 3);
    });

    it('close() waits for running handlers and then stops taking jobs', async () => {
      const name = freshQueue();
      let started = false;
      let finished = false;
      const worker = queue.work(name, async () => {
        started = true;
        await sleep(300);
        finished = true;
      });
      const { id } = await queue.enqueue(name, 'slow', {});
      await waitFor('started', () => started);
      await worker.close();
      assert.equal(finished, true, 'close() resolved before the handler finished');
      assert.equal((await queue.getJob(name, id))?.state, 'completed');

      const later = await queue.enqueue(name, 'after-close', {});
      await sleep(300);
      assert.equal((await queue.getJob(name, later.id))?.state, 'waiting');
    });

    it('rejects options that the backends would read differently', async () => {
      const name = freshQueue();
      await assert.rejects(queue.enqueue(name, 'x', {}, { priority: 1.5 }), RangeError);
      await assert.rejects(queue.enqueue(name, 'x', {}, { priority: -1 }), RangeError);
      await assert.rejects(queue.enqueue(name, 'x', {}, { maxAttempts: 0 }), RangeError);
      await assert.rejects(queue.enqueue(name, 'x', {}, { idempotencyKey: '' }), RangeError);
      assert.throws(() => queue.work(name, async () => {}, { concurrency: 0 }), RangeError);
      assert.deepEqual(await queue.counts(name), noCounts);
    });

    it('reported no background errors', () => {
      assert.deepEqual(backend.errors, []);
    });
  });
}
