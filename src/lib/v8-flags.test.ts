import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { API_V8_FLAGS, withApiV8Flags } from './v8-flags.ts';

describe('API V8 flags', () => {
  it('are added to what the process was started with', () => {
    assert.deepEqual(withApiV8Flags(['--enable-source-maps'], ''), ['--enable-source-maps', ...API_V8_FLAGS]);
  });

  it("leave the operator's own setting alone, on the command line or in NODE_OPTIONS", () => {
    assert.deepEqual(withApiV8Flags(['--max-semi-space-size=64'], ''), ['--max-semi-space-size=64']);
    assert.deepEqual(withApiV8Flags(['--max_semi_space_size=8'], ''), ['--max_semi_space_size=8']);
    assert.deepEqual(withApiV8Flags([], '--max-old-space-size=4096 --max-semi-space-size=16'), []);
  });

  it('give a Node process the larger young generation', () => {
    // The young generation grows to its maximum under allocation; then its size is read.
    const script =
      "let k = []; for (let i = 0; i < 3e6; i++) { k.push({ a: i, b: 'x' + i }); if (k.length > 20000) k = []; }" +
      "console.log(require('v8').getHeapSpaceStatistics().find((x) => x.space_name === 'new_space').space_size)";
    const size = (flags: string[]) => Number(execFileSync(process.execPath, [...flags, '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } }));
    assert.ok(size(withApiV8Flags([], '')) > size([]), 'the new space is larger with the flags');
  });

  it('are the ones `npm start` runs examday with', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } };
    for (const f of API_V8_FLAGS) assert.match(pkg.scripts.start, new RegExp(`node ${f} bin/examday.mjs`));
  });
});
