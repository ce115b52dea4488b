#!/usr/bin/env node
// Runs every *.test.ts under src/ with node's test runner through tsx.
// (Node 20's `node --test` does not expand glob patterns itself.)
// --test-force-exit: PGlite's WASM runtime can hold a test process open after
// everything is closed; a finished file must not stall the run.
// Extra arguments are passed on: `npm test -- --test-name-pattern=booking`;
// file arguments narrow the run: `npm test -- src/modules/attempts`.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : find(p);
    return e.name.endsWith('.test.ts') ? [p] : [];
  });
}

const args = process.argv.slice(2);
const paths = args.filter((a) => !a.startsWith('-'));
const flags = args.filter((a) => a.startsWith('-'));
const files = (paths.length ? paths : ['src'])
  .flatMap((p) => (statSync(p).isDirectory() ? find(p) : [p]))
  .sort();
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-force-exit', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...flags, ...files],
  { stdio: 'inherit' },
);
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
