import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LogBudget } from './log-budget.ts';

describe('LogBudget', () => {
  it('writes N lines a second, holds back the rest and reports them with the next line written', () => {
    let t = 1_000_000;
    const budget = new LogBudget(3, () => t);
    assert.deepEqual([budget.take(), budget.take(), budget.take()], [0, 0, 0]);
    assert.deepEqual([budget.take(), budget.take(), budget.take(), budget.take()], [-1, -1, -1, -1], 'the fourth line of the second is held back');
    t += 999;
    assert.equal(budget.take(), -1, 'still the same second');
    t += 1;
    assert.equal(budget.take(), 5, 'a new second: written, with the five held back');
    assert.equal(budget.take(), 0);
    t += 60_000;
    assert.equal(budget.take(), 0, 'a quiet minute later nothing was held back');
  });
});
