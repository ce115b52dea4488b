import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openTestPglite } from '../../testing/db.ts';
import type { Db } from '../db/index.ts';
import { EnqueueBatcher } from './batcher.ts';
import type { BulkJob, JobQueue } from './index.ts';
import { createSqlQueue } from './sql.ts';

describe('EnqueueBatcher', () => {
  let db: Db;
  let queue: JobQueue;
  const calls: number[] = [];
  let failNext = false;
  let counting: JobQueue;

  before(async () => {
    db = await openTestPglite();
    queue = createSqlQueue(db);
    // The real SQL queue, with enqueueMany calls counted (and one failure on demand).
    counting = {
      ...queue,
      enqueueMany: async (name: string, jobs: readonly BulkJob[]) => {
        calls.push(jobs.length);
        if (failNext) {
          failNext = false;
          throw new Error('store unavailable');
        }
        return queue.enqueueMany(name, jobs);
      },
    };
  });
  after(async () => {
    await queue.close();
    await db.close();
  });

  it('stores jobs added in one turn with one call, in chunks of maxBatch', async () => {
    const batcher = new EnqueueBatcher(counting, 'batched', 4);
    await Promise.all(Array.from({ length: 6 }, (_, i) => batcher.add({ name: 'grade', data: { i }, opts: { idempotencyKey: `k${i}` } })));
    assert.deepEqual(calls, [4, 2]);
    assert.equal((await queue.counts('batched')).waiting, 6);
    await batcher.add({ name: 'grade', data: { i: 0 }, opts: { idempotencyKey: 'k0' } });
    assert.equal((await queue.counts('batched')).waiting, 6, 'a known key is skipped');
  });

  it('rejects every add of a batch that could not be stored, and carries on', async () => {
    const batcher = new EnqueueBatcher(counting, 'failing');
    failNext = true;
    const results = await Promise.allSettled([batcher.add({ name: 'a', data: 1 }), batcher.add({ name: 'b', data: 2 })]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
    );
    await batcher.add({ name: 'c', data: 3 });
    assert.equal((await queue.counts('failing')).waiting, 1);
  });
});
