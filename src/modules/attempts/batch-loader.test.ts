import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BatchLoader } from './batch-loader.ts';

describe('BatchLoader', () => {
  it('reads the keys asked for in one turn with one call, each key once', async () => {
    const calls: string[][] = [];
    const loader = new BatchLoader(async (keys: string[]) => {
      calls.push(keys);
      return new Map(keys.filter((k) => k !== 'missing').map((k) => [k, k.toUpperCase()]));
    });
    const got = await Promise.all(['a', 'b', 'a', 'missing', 'c'].map((k) => loader.load(k)));
    assert.deepEqual(got, ['A', 'B', 'A', undefined, 'C']);
    assert.deepEqual(calls, [['a', 'b', 'missing', 'c']]);
    assert.equal(await loader.load('d'), 'D');
    assert.equal(calls.length, 2, 'a later turn is a new call');
  });

  it('splits large turns and passes failures to every waiter of the batch', async () => {
    const sizes: number[] = [];
    const loader = new BatchLoader(async (keys: number[]) => {
      sizes.push(keys.length);
      if (keys.includes(7)) throw new Error('boom');
      return new Map(keys.map((k) => [k, k * 2]));
    }, 5);
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => loader.load(i)));
    assert.deepEqual(sizes, [5, 5, 2]);
    const expected = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((i) => (i >= 5 && i < 10 ? 'rejected' : 'fulfilled'));
    assert.deepEqual(results.map((r) => r.status), expected);
  });

  it('answers a key loaded again right after its batch was answered, before the turn is over (an in-process database)', async () => {
    let calls = 0;
    // Answers without leaving the turn, as PGlite can.
    const loader = new BatchLoader((keys: string[]) => {
      calls++;
      return Promise.resolve(new Map(keys.map((k) => [k, `${k}${calls}`])));
    });
    const first = await loader.load('a');
    const again = await Promise.race([loader.load('a'), new Promise((r) => setTimeout(() => r('hung'), 1000))]);
    assert.equal(first, 'a1');
    assert.equal(again, 'a2');
  });
});
