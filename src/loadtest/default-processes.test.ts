import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultProcesses } from './run.ts';

test('default processes: as few as the open-file limit allows, with room for an uneven spread', () => {
  // A limit of 20,000 files leaves 19,000 client sockets; 90 % of them are filled.
  assert.equal(defaultProcesses(1, 19_000), 1);
  assert.equal(defaultProcesses(17_100, 19_000), 1);
  assert.equal(defaultProcesses(17_101, 19_000), 2);
  assert.equal(defaultProcesses(32_000, 19_000), 2);
  assert.equal(defaultProcesses(40_000, 19_000), 3);
  assert.equal(defaultProcesses(100_000, 19_000), 6);
  // A machine with a high limit runs one process of each.
  assert.equal(defaultProcesses(100_000, 1_047_576), 1);
  // Where the limit cannot be read (not Linux): 13,500 per process.
  assert.equal(defaultProcesses(27_000, undefined), 2);
  assert.equal(defaultProcesses(27_001, undefined), 3);
  assert.equal(defaultProcesses(0, 19_000), 1);
});
