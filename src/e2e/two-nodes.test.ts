/**
 * Horizontal scale: two `examday serve` processes and one `examday worker` on
 * the same PostgreSQL and Redis, no state shared in memory.
 * 1. A candidate whose every request goes to the other node: sign-in, book,
 *    start, paper, autosaves, submit and result alternate between the nodes;
 *    sign-in rate limits and live-update fan-out are shared; a node that
 *    cached the attempt as open still refuses answers after the other node
 *    took the submit.
 * 2. (when HAProxy is installed) Both nodes behind deploy/haproxy.cfg, several
 *    candidates autosaving through it; one node is SIGKILLed mid-run, the
 *    candidates carry on through the other (retrying with backoff and jitter),
 *    and every acknowledged answer is read back from the database.
 * Skips unless DATABASE_URL and REDIS_URL are set.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashPassword } from '../modules/auth/service.ts';
import { openPostgres } from '../platform/db/postgres.ts';
import { createTestPostgresDatabase } from '../testing/db.ts';
import { readEvents, valueFor, type PaperQuestion } from '../testing/exam.ts';
import { makePdf } from '../testing/pdf-fixtures.ts';
import { freePort } from '../lib/free-port.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(ROOT, 'bin/examday.mjs');
const HAPROXY = '/usr/sbin/haproxy';
const PASSWORD = 'correct horse battery staple';
const AUTHOR_EMAIL = 'two-nodes-author@example.org';
const LOGIN_LIMIT = 4;

const pgUrl = process.env.DATABASE_URL;
const redisUrl = process.env.REDIS_URL;
const skip = pgUrl && redisUrl ? false : 'needs DATABASE_URL and REDIS_URL';
if (skip) process.stderr.write('# notice: DATABASE_URL/REDIS_URL not set — two-node tests skipped\n');

interface Node {
  child: ChildProcess;
  base: string;
  log: () => string;
}

/** Starts a child and resolves when its output shows `ready`. */
async function start(name: string, args: string[], env: NodeJS.ProcessEnv, ready: string, port?: number): Promise<Node> {
  const child = spawn(args[0]!, args.slice(1), { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const onData = (d: Buffer): void => {
    out += d.toString();
    if (process.env.EXAMDAY_TEST_SERVER_LOG) process.stderr.write(`[${name}] ${d.toString()}`);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start in 90 s:\n${out}`)), 90_000);
    const check = (): void => {
      if (!out.includes(ready)) return;
      clearTimeout(timer);
      child.stdout!.off('data', check);
      child.stderr!.off('data', check);
      resolve();
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${out}`));
    });
  });
  return { child, base: port ? `http://127.0.0.1:${port}/api/v1` : '', log: () => out };
}

interface Reply<T> {
  status: number;
  body: T;
  headers: Headers;
}

async function call<T = Record<string, unknown>>(
  base: string,
  method: string,
  url: string,
  token?: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<Reply<T>> {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined && !(body instanceof FormData) ? { 'content-type': contentType } : {}),
    },
    ...(body !== undefined ? { body: body instanceof FormData || typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T, headers: res.headers };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('two API nodes and a worker on shared PostgreSQL and Redis', { skip }, () => {
  const children: ChildProcess[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  let a: Node;
  let b: Node;
  let env: NodeJS.ProcessEnv;
  let dbUrl: string;
  let authorToken: string;
  let sessionId: string;

  before(async () => {
    const created = await createTestPostgresDatabase(pgUrl!);
    cleanups.push(() => created.drop());
    dbUrl = created.url;
    const dir = await mkdtemp(path.join(os.tmpdir(), 'examday-2n-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const db = await openPostgres({ url: dbUrl, poolMax: 1, statementTimeoutMs: 0, slowQueryMs: 60_000 });
    await db.kysely
      .insertInto('users')
      .values({ role: 'author', email: AUTHOR_EMAIL, name: 'Two-node author', password_hash: await hashPassword(PASSWORD) })
      .execute();
    await db.close();

    env = {
      ...process.env,
      DATABASE_URL: dbUrl,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: `examday-2n-${randomBytes(4).toString('hex')}`,
      EXAMDAY_DATA_DIR: dir,
      LOG_LEVEL: 'info',
      SEED_DEMO: 'false',
      LOGIN_RATE_LIMIT_PER_MIN: String(LOGIN_LIMIT),
      WEB_CONCURRENCY: '1',
    };
    // No JWT_SECRET: the nodes must agree on the one generated and kept in the database.
    delete env.JWT_SECRET;
    const [portA, portB] = [await freePort(), await freePort()];
    const node = (port: number) => ({ ...env, PORT: String(port), HOST: '127.0.0.1' });
    [a, b] = await Promise.all([
      start('A', [process.execPath, CLI, 'serve'], node(portA), 'listening on', portA),
      start('B', [process.execPath, CLI, 'serve'], node(portB), 'listening on', portB),
      start('worker', [process.execPath, CLI, 'worker'], env, 'worker started').then((w) => {
        children.push(w.child);
        return w;
      }),
    ]);
    children.push(a.child, b.child);

    const login = await call<{ accessToken: string }>(a.base, 'POST', '/auth/login', undefined, { email: AUTHOR_EMAIL, password: PASSWORD });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    authorToken = login.body.accessToken;
    // Content built across both nodes.
    const questions = [
      { type: 'single_choice', stem: 'Largest ocean?', options: [{ id: 'atl', text: 'Atlantic' }, { id: 'pac', text: 'Pacific' }], correct: 'pac' },
      { type: 'true_false', stem: 'Water is wet.', correct: true },
      { type: 'numeric', stem: '6 × 7', answer: 42, tolerance: 0 },
      { type: 'short_text', stem: 'Capital of France', accepted: ['Paris'], match: 'normalized' },
    ];
    const ids: string[] = [];
    for (const [i, q] of questions.entries()) {
      const r = await call<{ id: string }>(i % 2 ? a.base : b.base, 'POST', '/questions', authorToken, q);
      assert.ok(r.status < 300, JSON.stringify(r.body));
      ids.push(r.body.id);
    }
    assert.equal((await call(b.base, 'POST', '/questions/bulk-approve', authorToken, { ids })).status, 200);
    const asm = await call<{ id: string }>(a.base, 'POST', '/assessments', authorToken, {
      title: 'Two-node exam',
      timeLimitS: 900,
      shuffleItems: true,
      releasePolicy: 'on_submit',
      items: ids.map((questionId) => ({ questionId })),
    });
    assert.ok(asm.status < 300, JSON.stringify(asm.body));
    assert.ok((await call(b.base, 'POST', `/assessments/${asm.body.id}/publish`, authorToken)).status < 300);
    const session = await call<{ id: string }>(a.base, 'POST', '/sessions', authorToken, {
      assessmentId: asm.body.id,
      district: 'harbour',
      title: 'Morning',
      startsAt: new Date(Date.now() - 60_000).toISOString(),
      endsAt: new Date(Date.now() + 3_600_000).toISOString(),
      capacity: 100,
    });
    assert.ok(session.status < 300, JSON.stringify(session.body));
    sessionId = session.body.id;
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  async function importCandidates(base: string, n: number, tag: string): Promise<string[]> {
    const csv = `name,email,district\n${Array.from({ length: n }, (_, i) => `Cand ${tag}${i},${tag}${i}@example.org,harbour`).join('\n')}\n`;
    const r = await call<{ rows: { status: string; accessCode?: string }[] }>(base, 'POST', '/candidates/import', authorToken, csv, 'text/csv');
    assert.ok(r.status < 300, JSON.stringify(r.body));
    const codes = r.body.rows.flatMap((row) => (row.accessCode ? [row.accessCode] : []));
    assert.equal(codes.length, n);
    return codes;
  }

  it('a candidate whose every request goes to the other node', async () => {
    const [code] = await importCandidates(b.base, 1, 'alt');
    const nodes = [a.base, b.base];
    let turn = 0;
    const next = (): string => nodes[turn++ % 2]!;

    // Sign-in rate limits are counted in Redis: attempts on both nodes add up.
    for (let i = 0; i < LOGIN_LIMIT; i++) {
      assert.equal((await call(next(), 'POST', '/auth/access-code', undefined, { code: 'ZZZZ-ZZZZ-ZZZZ-ZZZZ' })).status, 401);
    }
    const limited = await call(next(), 'POST', '/auth/access-code', undefined, { code: 'ZZZZ-ZZZZ-ZZZZ-ZZZZ' });
    assert.equal(limited.status, 429, 'the fifth attempt is limited, whichever node counts it');
    assert.ok(Number(limited.headers.get('retry-after')) > 0);

    turn = 0;
    const signIn = await call<{ accessToken: string }>(next(), 'POST', '/auth/access-code', undefined, { code }); // A
    assert.equal(signIn.status, 200, JSON.stringify(signIn.body));
    const token = signIn.body.accessToken;
    const booked = await call<{ booking: { id: string } }>(next(), 'POST', `/sessions/${sessionId}/bookings`, token, {}); // B
    assert.equal(booked.status, 201, JSON.stringify(booked.body));
    const started = await call<{ id: string }>(next(), 'POST', `/bookings/${booked.body.booking.id}/attempt`, token); // A
    assert.equal(started.status, 200, JSON.stringify(started.body));
    const attemptId = started.body.id;
    const paper = await call<{ questions: PaperQuestion[] }>(next(), 'GET', `/attempts/${attemptId}/paper`, token); // B
    assert.equal(paper.status, 200);
    const again = await call<{ questions: PaperQuestion[] }>(next(), 'GET', `/attempts/${attemptId}/paper`, token); // A
    assert.deepEqual(again.body.questions.map((q) => q.id), paper.body.questions.map((q) => q.id), 'same order on both nodes');

    const byType = new Map(paper.body.questions.map((q) => [q.type, q]));
    const save = (base: string, type: string, value: unknown, seq: number) =>
      call<{ acked: { seq: number }[] }>(base, 'PUT', `/attempts/${attemptId}/answers`, token, { answers: [{ questionId: byType.get(type)!.id, value, seq }] });
    assert.equal((await save(next(), 'single_choice', 'atl', 1)).status, 200); // B
    assert.equal((await save(next(), 'single_choice', 'pac', 2)).status, 200); // A
    assert.equal((await save(next(), 'single_choice', 'atl', 1)).status, 200, 'a stale retry is acknowledged'); // B
    assert.equal((await save(next(), 'true_false', true, 1)).status, 200); // A
    assert.equal((await save(next(), 'numeric', 42, 1)).status, 200); // B
    assert.equal((await save(next(), 'short_text', ' paris ', 1)).status, 200); // A
    const resumed = await call<{ answers: { questionId: string; value: unknown; seq: number }[] }>(next(), 'GET', `/attempts/${attemptId}`, token); // B
    assert.equal(resumed.body.answers.length, 4);
    const choice = resumed.body.answers.find((x) => x.questionId === byType.get('single_choice')!.id);
    assert.deepEqual([choice?.value, choice?.seq], ['pac', 2], 'the newer answer wins whichever node took it');

    const submitted = await call<{ status: string }>(a.base, 'POST', `/attempts/${attemptId}/submit`, token, {});
    assert.equal(submitted.status, 200, JSON.stringify(submitted.body));
    // B served this attempt before and cached it as open; the write guard still refuses.
    const late = await save(b.base, 'true_false', false, 5);
    assert.equal(late.status, 409, JSON.stringify(late.body));
    assert.equal((late.body as unknown as { code: string }).code, 'attempt_closed');

    let result: { status: string; score?: number; released?: boolean } = { status: 'submitted' };
    // The niced worker holds gradings up to 30 s while the machine is busy (a CI run is).
    for (let i = 0; i < 600 && result.status !== 'graded'; i++) {
      await sleep(100);
      result = (await call<typeof result>(b.base, 'GET', `/attempts/${attemptId}/result`, token)).body;
    }
    assert.equal(result.status, 'graded', 'the worker graded it');
    assert.equal(result.released, true);
    assert.equal(result.score, 4);
  });

  it('live updates published by the worker reach a stream on either node', async () => {
    const controller = new AbortController();
    try {
      const stream = await fetch(`${b.base}/materials/events`, { headers: { authorization: `Bearer ${authorToken}` }, signal: controller.signal });
      assert.equal(stream.status, 200);
      const form = new FormData();
      const pdf = makePdf([['Tides are caused mainly by the gravity of the Moon acting on the oceans of the Earth.']], { title: 'Tides' });
      form.append('file', new Blob([new Uint8Array(pdf)], { type: 'application/pdf' }), 'tides.pdf');
      const uploaded = await call<{ id: string }>(a.base, 'POST', '/materials', authorToken, form);
      assert.equal(uploaded.status, 201, JSON.stringify(uploaded.body));
      const seen = await readEvents(
        stream,
        ({ event, data }) => {
          const m = data as { id?: string; status?: string };
          return event === 'material' && m.id === uploaded.body.id && (m.status === 'ready' || m.status === 'failed');
        },
        45_000,
      );
      assert.ok(seen.length >= 2, JSON.stringify(seen));
    } finally {
      controller.abort();
    }
  });

  it('behind HAProxy: SIGKILL one node mid-run, candidates carry on, no acknowledged answer is lost', {
    skip: existsSync(HAPROXY) ? false : `${HAPROXY} not installed`,
  }, async (t) => {
    const lbPort = await freePort();
    const statsPort = await freePort();
    const cfg = (await readFile(path.join(ROOT, 'deploy/haproxy.cfg'), 'utf8'))
      .replaceAll('127.0.0.1:3001', new URL(a.base).host)
      .replaceAll('127.0.0.1:3002', new URL(b.base).host)
      .replace('bind 127.0.0.1:8080', `bind 127.0.0.1:${lbPort}`)
      .replace('bind 127.0.0.1:8404', `bind 127.0.0.1:${statsPort}`);
    const cfgFile = path.join(env.EXAMDAY_DATA_DIR!, 'haproxy.cfg');
    await writeFile(cfgFile, cfg);
    const lb = spawn(HAPROXY, ['-db', '-f', cfgFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(lb);
    let lbLog = '';
    lb.stdout.on('data', (d: Buffer) => (lbLog += d.toString()));
    lb.stderr.on('data', (d: Buffer) => (lbLog += d.toString()));
    const base = `http://127.0.0.1:${lbPort}/api/v1`;
    for (let i = 0; ; i++) {
      const ok = await fetch(`http://127.0.0.1:${lbPort}/readyz`).then((r) => r.ok, () => false);
      if (ok) break;
      if (i > 100 || lb.exitCode !== null) assert.fail(`haproxy did not come up:\n${lbLog}`);
      await sleep(100);
    }

    // The client a candidate's browser runs: retry 502/503/504 and dropped
    // connections with exponential backoff and jitter, keep the answer until acked.
    const errors = { '502': 0, '503': 0, '504': 0, connection: 0 };
    async function resilient<T>(method: string, url: string, token?: string, body?: unknown): Promise<Reply<T>> {
      for (let attempt = 0; ; attempt++) {
        try {
          const r = await call<T>(base, method, url, token, body);
          if (r.status !== 502 && r.status !== 503 && r.status !== 504) return r;
          errors[String(r.status) as '502' | '503' | '504']++;
        } catch {
          errors.connection++;
        }
        if (attempt >= 10) assert.fail(`${method} ${url} kept failing`);
        await sleep(Math.min(2000, 50 * 2 ** attempt) * (0.5 + Math.random()));
      }
    }

    const codes = await importCandidates(base, 16, 'lb');
    const takers = await Promise.all(
      codes.map(async (code) => {
        const s = await resilient<{ accessToken: string }>('POST', '/auth/access-code', undefined, { code });
        assert.equal(s.status, 200, JSON.stringify(s.body));
        const token = s.body.accessToken;
        const booking = await resilient<{ booking: { id: string } }>('POST', `/sessions/${sessionId}/bookings`, token, {});
        assert.equal(booking.status, 201, JSON.stringify(booking.body));
        const attempt = await resilient<{ id: string }>('POST', `/bookings/${booking.body.booking.id}/attempt`, token);
        const paper = await resilient<{ questions: PaperQuestion[] }>('GET', `/attempts/${attempt.body.id}/paper`, token);
        assert.equal(paper.status, 200);
        return { token, attemptId: attempt.body.id, questions: paper.body.questions };
      }),
    );

    const acked = new Map<string, { seq: number; value: unknown }>();
    let ackCount = 0;
    let stop = false;
    let seq = 0;
    const loops = takers.map(async (taker) => {
      for (let i = 0; !stop; i++) {
        const q = taker.questions[i % taker.questions.length]!;
        const s = ++seq;
        const value = valueFor(q, s);
        const r = await resilient<{ acked: { seq: number }[] }>('PUT', `/attempts/${taker.attemptId}/answers`, taker.token, {
          answers: [{ questionId: q.id, value, seq: s }],
        });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        ackCount++;
        const key = `${taker.attemptId}/${q.id}`;
        if ((acked.get(key)?.seq ?? -1) < s) acked.set(key, { seq: s, value });
        await sleep(20 + Math.random() * 40);
      }
    });

    await sleep(2500);
    const beforeKill = ackCount;
    a.child.kill('SIGKILL');
    await once(a.child, 'exit');
    await sleep(5000);
    stop = true;
    await Promise.all(loops);
    const afterKill = ackCount - beforeKill;

    const db = await openPostgres({ url: dbUrl, poolMax: 1, statementTimeoutMs: 0, slowQueryMs: 60_000 });
    let lost = 0;
    try {
      const stored = await db.kysely
        .selectFrom('responses')
        .select(['attempt_id', 'question_id', 'seq', 'value'])
        .where('attempt_id', 'in', takers.map((x) => x.attemptId))
        .execute();
      const byKey = new Map(stored.map((r) => [`${r.attempt_id}/${r.question_id}`, r]));
      for (const [key, want] of acked) {
        const got = byKey.get(key);
        if (!got || got.seq < want.seq || (got.seq === want.seq && JSON.stringify(got.value) !== JSON.stringify(want.value))) lost++;
      }
    } finally {
      await db.close();
    }
    const errorCount = errors['502'] + errors['503'] + errors['504'] + errors.connection;
    // What the balancer absorbed: requests it re-sent (wretr) or re-sent to the other node (wredis).
    const csv = await fetch(`http://127.0.0.1:${statsPort}/;csv`).then((r) => r.text(), () => '');
    const header = csv.split('\n')[0]?.replace(/^# /, '').split(',') ?? [];
    const row = csv.split('\n').find((l) => l.startsWith('examday_api,BACKEND'))?.split(',') ?? [];
    const lbStat = (name: string): string => row[header.indexOf(name)] ?? '?';
    t.diagnostic(
      `autosaves acknowledged: ${ackCount} (${beforeKill} before the kill, ${afterKill} after); ` +
        `errors seen and retried by clients: ${errorCount} ${JSON.stringify(errors)}; ` +
        `load balancer retries: ${lbStat('wretr')}, redispatches: ${lbStat('wredis')}; lost_answers: ${lost}`,
    );
    assert.equal(lost, 0, `${lost} acknowledged answers lost`);
    assert.ok(afterKill > takers.length * 5, `candidates carried on after the kill (${afterKill} autosaves)`);
    // The surviving node still serves everything.
    const r = await resilient('GET', `/attempts/${takers[0]!.attemptId}`, takers[0]!.token);
    assert.equal(r.status, 200);
  });
});
