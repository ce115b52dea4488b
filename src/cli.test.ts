/**
 * The command line answers a wrong call with what to fix and exit code 2,
 * never a stack trace.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/examday.mjs');

function examday(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'silent' };
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  const r = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('examday command line', () => {
  it('prints the usage for --help after any command', () => {
    for (const args of [['--help'], ['help'], ['seed', '--help'], ['serve', '-h']]) {
      const r = examday(...args);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, /^usage: examday <command>/);
    }
  });

  it('names an unknown option or a missing value and exits 2 without a stack trace', () => {
    for (const [args, message] of [
      [['seed', '--bogus'], /Unknown option '--bogus'/],
      [['serve', '--processes'], /'--processes <value>' argument missing/],
      [['seed', '--candidates', 'many'], /--candidates must be a positive whole number/],
      [['seed', '--drop', "x' OR '1'='1"], /--drop takes the runTag that `examday seed` printed/],
      [['nonsense'], /unknown command "nonsense"/],
    ] as const) {
      const r = examday(...args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
  });
});
