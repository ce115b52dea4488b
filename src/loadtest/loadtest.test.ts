/**
 * The load harness end to end, small and fast:
 * - `examday loadtest --embedded --json` on PGlite with two generator
 *   processes: the JSON line's fields, no errors, no lost answers, a report;
 * - the same under an open-file limit lower than the candidates need: the
 *   warning before the run, and the server's refusals in the summary;
 * - booking first against an in-process server, then the lost-answers check
 *   catching a deleted, an altered and a rolled-back answer;
 * - requests in flight when the run's time is up still answered and counted;
 * - answers changed while a slow save is in flight go in one save after it,
 *   each timed from its own tick;
 * - refusal of a target that is not this machine.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { seedLoad, type LoadCandidate } from '../modules/demo/seed.ts';
import type { Db } from '../platform/db/index.ts';
import { openPglite } from '../platform/db/pglite.ts';
import { createTestApp, type TestApp } from '../testing/app.ts';
import { openTestPglite } from '../testing/db.ts';
import type { Config } from '../config.ts';
import { loadtestCli } from './cli.ts';
import { runLoad, type LoadPlan } from './coordinator.ts';
import { freePort } from '../lib/free-port.ts';
import { checkLostAnswers } from './lost-answers.ts';

const BIN = fileURLToPath(new URL('../../bin/examday.mjs', import.meta.url));

// These tests check the harness, not the server's capacity: on a busy test
// machine the server's event-loop shedding could refuse a few requests of
// this tiny run, so it is off here (the harness would count every 503).
const NO_SHEDDING = { SHED_EVENT_LOOP_DELAY_MS: '0' };

/** An examday data dir with a migrated PGlite database, from the test template: a fresh initdb takes several seconds. */
async function migratedDataDir(dataDir: string): Promise<string> {
  const template = (await openTestPglite()) as Db & { dump(): Promise<Blob> };
  const blob = await template.dump();
  await template.close();
  await mkdir(path.join(dataDir, 'pgdata'), { recursive: true });
  await (await openPglite({ slowQueryMs: 600_000, dataDir: path.join(dataDir, 'pgdata'), loadDataDir: blob })).close();
  return dataDir;
}

/** Runs the CLI; with `openFiles`, under that open-file limit (as `ulimit -n` sets it). */
function cli(args: string[], openFiles?: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...NO_SHEDDING };
    const opts = { stdio: ['ignore', 'pipe', 'pipe'] as ['ignore', 'pipe', 'pipe'], env };
    const child =
      openFiles === undefined
        ? spawn(process.execPath, [BIN, ...args], opts)
        : spawn('bash', ['-c', `ulimit -n ${openFiles} && exec "$0" "$@"`, process.execPath, BIN, ...args], opts);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('examday loadtest', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'examday-loadtest-test-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('runs an embedded exam day and prints the summary as the last JSON line', async () => {
    const dataDir = await migratedDataDir(path.join(dir, 'data'));

    const r = await cli([
      'loadtest', '--embedded', '--pglite', '--data-dir', dataDir,
      '--candidates', '30', '--duration', '10', '--storm', '2', '--autosave-every', '1',
      '--reload-share', '0.3', '--procs', '2', '--warmup', '2', '--report-dir', path.join(dir, 'reports'), '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    const s = JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
    for (const f of ['candidates', 'duration_s', 'requests', 'errors', 'autosave_p99_ms', 'paper_p99_ms', 'acked_answers', 'lost_answers']) {
      assert.ok(f in s, `missing ${f}`);
    }
    assert.equal(s.candidates, 30);
    assert.equal(s.duration_s, 10);
    assert.equal(s.errors, 0, JSON.stringify(s.errors_by_code));
    assert.equal(s.lost_answers, 0, JSON.stringify(s.lost_answers_examples));
    assert.equal(s.candidates_submitted, 30);
    assert.equal(s.resume_mismatches, 0);
    // After submitting, each candidate's result page asks until it is graded (the embedded run has a grader).
    const result = (s.endpoints as Record<string, { count: number }>).result;
    assert.ok(result && result.count >= 30, `result asked ${String(result?.count)} times`);
    const warmup = s.warmup as { candidates: number; submitted: number; errors: number; lost_answers: number };
    assert.deepEqual({ ...warmup, requests: undefined }, { candidates: 2, submitted: 2, errors: 0, lost_answers: 0, requests: undefined }, 'the warm-up is reported apart');
    assert.match(r.stderr, /warming up: 2 candidates/);
    assert.ok((s.requests as number) > 30 * 7, `requests ${String(s.requests)}`);
    assert.ok((s.acked_answers as number) > 30, `acked ${String(s.acked_answers)}`);
    assert.ok((s.autosave_p99_ms as number) > 0 && (s.paper_p99_ms as number) > 0);
    assert.ok((s.host_hello_rps as number) > 100, `this machine's hello-world rate is reported: ${String(s.host_hello_rps)}`);
    const syscallNs = s.host_syscall_ns as number;
    assert.ok(Number.isInteger(syscallNs) && syscallNs > 0 && syscallNs < 1_000_000, `a system call's cost is reported: ${String(syscallNs)} ns`);
    assert.match(r.stderr, /this machine now: [\d,]+ req\/s from a bare node:http hello world through this client; a system call [\d,]+ ns/);
    const perRequest = s.cpu_us_per_request as { machine: number; examday: number; postgres: number; generator: number } | undefined;
    assert.ok(perRequest && perRequest.examday > 0 && perRequest.machine >= perRequest.examday, `CPU per request in the exam: ${JSON.stringify(perRequest)}`);
    assert.match(r.stderr, /\[\s+\d+\/10 s\] · active \d+\/30 · \d+ req\/s · autosave p99/);
    const html = await readFile(s.report as string, 'utf8');
    assert.match(html, /<svg[^>]*aria-label="Autosave latency/);
    assert.match(html, /this machine before the run \(bare node:http hello world\)/);
    assert.match(html, /this machine before the run \(one system call\)/);
    assert.doesNotMatch(html, /<script|https?:\/\/(?!127\.0\.0\.1)/);
  });

  it("names the server's open-file limit when the candidates are more than one process may hold", async () => {
    // 1,150 files: each examday process keeps 1,000 back and holds at most 150 client sockets.
    const r = await cli(
      ['loadtest', '--embedded', '--pglite', '--data-dir', await migratedDataDir(path.join(dir, 'limited')), '--candidates', '170', '--duration', '6', '--storm', '1', '--drain', '5', '--json', '--no-report'],
      1150,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: one examday process here may hold 150 client sockets .*; 170 candidates on 1 will have connections refused/);
    const lines = r.stdout.trim().split('\n');
    const s = JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
    assert.equal(s.server_client_socket_limit, 150);
    assert.ok((s.server_connections_refused as number) > 0, `refused ${String(s.server_connections_refused)}`);
    assert.ok((s.errors as number) > 0, 'the refused candidates saw their connections reset');
    assert.equal(s.lost_answers, 0, 'what was acknowledged is kept');
  });

  it('refuses a target that is not this machine, with a clear message', async () => {
    const run = async (args: string[]) => {
      let stderr = '';
      const code = await loadtestCli('loadtest', args, { db: { url: 'postgres://127.0.0.1:1/none' }, redis: { url: undefined } } as Config, {
        out: () => undefined,
        err: (t) => (stderr += t),
      });
      return { code, stderr };
    };
    const r = await run(['--target', 'http://192.168.1.20:3000', '--candidates', '10']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /only sends load to this machine: --target must be a loopback address.*got 192\.168\.1\.20/);
    const named = await run(['--target', 'http://example.invalid:3000']);
    assert.equal(named.code, 2);
    const both = await run(['--target', 'http://127.0.0.1:1', '--embedded']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /either --target URL .* or --embedded/);
    const bad = await run(['--target', 'http://127.0.0.1:1', '--candidates', 'many']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--candidates must be a whole number/);
  });
});

/** A few seconds' exam day against 127.0.0.1:`port`: a 1 s storm, a 1 s submit window, no reloads, pre-booked. */
function smallRun(port: number, over: Partial<LoadPlan['config']> & Pick<LoadPlan['config'], 'durationS' | 'autosaveEveryS' | 'seed'>): LoadPlan['config'] {
  return {
    host: '127.0.0.1',
    port,
    hostHeader: `127.0.0.1:${port}`,
    basePath: '/api/v1',
    stormS: 1,
    submitWindowS: 1,
    drainS: 5,
    autosaveJitter: 0.2,
    reloadShare: 0,
    bookingFirst: false,
    timeoutMs: 10_000,
    sourceAddresses: [],
    ...over,
  };
}

/** A proxy in front of the server at `appPort` that holds each answer back by `delayMs(url)`. */
async function slowProxy(appPort: number, delayMs: (url: string) => number): Promise<{ proxy: http.Server; proxyPort: number }> {
  const proxy = http.createServer((req, res) => {
    const headers = { ...req.headers };
    delete headers.connection;
    const up = http.request({ host: '127.0.0.1', port: appPort, path: req.url, method: req.method, headers }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (c: Buffer) => chunks.push(c));
      answer.on('end', () => {
        const body = Buffer.concat(chunks);
        setTimeout(
          () => res.writeHead(answer.statusCode ?? 502, { 'content-type': answer.headers['content-type'] ?? 'text/plain', 'content-length': body.length }).end(body),
          delayMs(req.url ?? ''),
        );
      });
    });
    req.pipe(up);
  });
  const proxyPort = await freePort();
  await new Promise<void>((resolve) => proxy.listen(proxyPort, '127.0.0.1', resolve));
  return { proxy, proxyPort };
}

async function closeProxy(proxy: http.Server): Promise<void> {
  proxy.closeAllConnections();
  await new Promise<void>((resolve) => proxy.close(() => resolve()));
}

describe('load harness scenario and lost-answers check', () => {
  let t: TestApp;
  before(async () => {
    // Gradings never held: on a machine busy with other test files the grading
    // gate would tell each submit to ask for its result after 31 s, past these runs' end.
    t = await createTestApp({ name: 'pglite', open: openTestPglite }, NO_SHEDDING, { gradingsHeld: () => false });
    await t.app.listen({ port: await freePort(), host: '127.0.0.1' });
  });
  after(() => t.close());

  it('books first, saves, resumes, submits; then detects deleted, altered and older answers', async () => {
    const rows: LoadCandidate[] = [];
    await seedLoad(t.ctx, { candidates: 16, districts: 2, sessionsPerDistrict: 2, bookingFirst: true }, rows);
    const { port } = t.app.server.address() as AddressInfo;
    const out = await runLoad({
      procs: 1,
      candidates: rows.map((r) => ({ code: r.accessCode, district: r.district })),
      config: smallRun(port, { durationS: 5, drainS: 10, autosaveEveryS: 0.5, reloadShare: 0.5, bookingFirst: true, sourceAddresses: ['127.0.0.2', '127.0.0.3'], seed: 7 }),
    });
    assert.equal(out.aggregate.errors(), 0, JSON.stringify(Object.fromEntries(out.aggregate.errorsByKey)));
    assert.equal(out.totals.submitted, 16);
    assert.equal(out.aggregate.counts.get('book')?.ok, 16);
    assert.ok(out.totals.resumes > 0);
    assert.equal(out.totals.resumeMismatches, 0);

    const k = t.ctx.db.kysely;
    const clean = await checkLostAnswers(k, out.acked);
    assert.equal(clean.lost_answers, 0, clean.examples.join('\n'));
    assert.ok(clean.acked_answers >= 16);

    const c = out.acked[0]!;
    const key = (i: number) => ({ a: c.attempt[i]!, q: c.question[i]! });
    const deleted = key(0);
    await sql`DELETE FROM responses WHERE attempt_id = ${deleted.a}::uuid AND question_id = ${deleted.q}`.execute(k);
    const one = await checkLostAnswers(k, out.acked);
    assert.equal(one.lost_answers, 1);
    assert.match(one.examples[0]!, /no row in the database/);

    const altered = key(1);
    await sql`UPDATE responses SET value = '"tampered"'::jsonb WHERE attempt_id = ${altered.a}::uuid AND question_id = ${altered.q}`.execute(k);
    const older = key(2);
    await sql`UPDATE responses SET seq = seq - 1 WHERE attempt_id = ${older.a}::uuid AND question_id = ${older.q}`.execute(k);
    const three = await checkLostAnswers(k, out.acked);
    assert.equal(three.lost_answers, 3, three.examples.join('\n'));
  });

  it("answers to requests in flight when the run's time is up are waited for, not counted as errors", async () => {
    const rows: LoadCandidate[] = [];
    await seedLoad(t.ctx, { candidates: 6, districts: 1, sessionsPerDistrict: 1, bookingFirst: false }, rows);
    const { port: appPort } = t.app.server.address() as AddressInfo;
    // In front of the server: result asks are answered 4.5 s late. Each is made
    // 2.25–3.75 s after a submit at 2–3 s, so no earlier than 4.25 s: every ask
    // made is still in flight at the stop (8 s), and answered within its grace.
    const { proxy, proxyPort } = await slowProxy(appPort, (url) => (url.endsWith('/result') ? 4500 : 0));
    try {
      const out = await runLoad({
        procs: 1,
        candidates: rows.map((r) => ({ code: r.accessCode, district: r.district })),
        config: smallRun(proxyPort, { durationS: 3, autosaveEveryS: 1, seed: 3 }),
      });
      assert.equal(out.aggregate.errors(), 0, JSON.stringify(Object.fromEntries(out.aggregate.errorsByKey)));
      assert.equal(out.totals.submitted, 6);
      // On a slow machine a late submit may leave its first ask past the stop; an ask made is answered.
      assert.ok((out.aggregate.counts.get('result')?.ok ?? 0) >= 1, 'asks in flight at the stop were answered');
    } finally {
      await closeProxy(proxy);
    }
  });

  it('sends the answers changed while a slow save was in flight in one save after it, and times each change', async () => {
    const rows: LoadCandidate[] = [];
    await seedLoad(t.ctx, { candidates: 4, districts: 1, sessionsPerDistrict: 1, bookingFirst: false }, rows);
    const { port: appPort } = t.app.server.address() as AddressInfo;
    // Every save is answered 2 s late while a candidate changes an answer every 0.5 s.
    const { proxy, proxyPort } = await slowProxy(appPort, (url) => (url.endsWith('/answers') ? 2000 : 0));
    try {
      const out = await runLoad({
        procs: 1,
        candidates: rows.map((r) => ({ code: r.accessCode, district: r.district })),
        config: smallRun(proxyPort, { durationS: 8, autosaveEveryS: 0.5, seed: 5 }),
      });
      assert.equal(out.aggregate.errors(), 0, JSON.stringify(Object.fromEntries(out.aggregate.errorsByKey)));
      assert.equal(out.totals.submitted, 4);
      const saves = out.aggregate.counts.get('autosave')?.ok ?? 0;
      const changes = out.aggregate.hists.get('autosave')?.totalCount ?? 0;
      // ~6 s of saving: about 3 saves a candidate, about 12 changes; a burst of catch-up saves would make them equal.
      assert.ok(saves >= 4 && saves <= 4 * 5, `saves: ${saves}`);
      assert.ok(changes >= 2 * saves, `changes timed: ${changes}, saves: ${saves}`);
      // A change that waited for the save before it waited at least that long.
      assert.ok((out.aggregate.hists.get('autosave')?.maxValue ?? 0) >= 2000 * 1000, 'the wait for the slow save is in the latency');
      const lost = await checkLostAnswers(t.ctx.db.kysely, out.acked);
      assert.equal(lost.lost_answers, 0, lost.examples.join('\n'));
      assert.ok(lost.acked_answers >= 4);
    } finally {
      await closeProxy(proxy);
    }
  });
});
