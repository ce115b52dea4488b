/**
 * "An acknowledged answer is never lost": a real `examday serve` process takes
 * 1,000 autosaves, is SIGKILLed right after the last acknowledgement, and every
 * acknowledged answer is then read back from the database — on PGlite (files
 * under the data dir) and on PostgreSQL.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { openPglite } from '../platform/db/pglite.ts';
import { openPostgres } from '../platform/db/postgres.ts';
import type { Db } from '../platform/db/index.ts';
import { createTestPostgresDatabase } from '../testing/db.ts';
import { valueFor, type PaperQuestion } from '../testing/exam.ts';
import { runExamday as run, startExamday } from '../testing/processes.ts';

const CANDIDATES = 40;
const ANSWERS = 1000;

async function json<T>(res: Promise<Response>): Promise<T> {
  const r = await res;
  const body = await r.text();
  if (!r.ok) throw new Error(`${r.status} ${body}`);
  return JSON.parse(body) as T;
}

interface Taker {
  headers: Record<string, string>;
  attemptId: string;
  questions: PaperQuestion[];
}

/** Seed candidates, start a server, sign everyone in and start their attempts. */
async function prepare(env: NodeJS.ProcessEnv, workDir: string): Promise<{ child: ChildProcess; base: string; takers: Taker[] }> {
  const codesFile = path.join(workDir, 'codes.csv');
  await run(['seed', '--candidates', String(CANDIDATES), '--districts', '1', '--out', codesFile], env);
  const rows = (await readFile(codesFile, 'utf8')).trim().split('\n').slice(1).map((l) => l.split(','));
  assert.equal(rows.length, CANDIDATES);
  const { child, base } = await startExamday('serve', env);
  const takers = await Promise.all(
      rows.map(async ([, , , bookingId, code]) => {
        const { accessToken } = await json<{ accessToken: string }>(
          fetch(`${base}/auth/access-code`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) }),
        );
        const headers = { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' };
        const attempt = await json<{ id: string }>(fetch(`${base}/bookings/${bookingId}/attempt`, { method: 'POST', headers: { authorization: headers.authorization } }));
        const paper = await json<{ questions: PaperQuestion[] }>(fetch(`${base}/attempts/${attempt.id}/paper`, { headers: { authorization: headers.authorization } }));
        return { headers, attemptId: attempt.id, questions: paper.questions };
      }),
    );
  return { child, base, takers };
}

async function lostAnswers(db: Db, acked: Map<string, { seq: number; value: unknown }>): Promise<number> {
  const stored = await db.kysely.selectFrom('responses').select(['attempt_id', 'question_id', 'seq', 'value']).execute();
  const byKey = new Map(stored.map((r) => [`${r.attempt_id}/${r.question_id}`, r]));
  let lost = 0;
  for (const [key, a] of acked) {
    const s = byKey.get(key);
    if (!s || s.seq < a.seq || (s.seq === a.seq && JSON.stringify(s.value) !== JSON.stringify(a.value))) lost++;
  }
  return lost;
}

async function crashAndCheck(env: NodeJS.ProcessEnv, openDb: () => Promise<Db>, workDir: string): Promise<void> {
  const { child, base, takers } = await prepare(env, workDir);
  try {

    // 1,000 autosaves, spread over candidates and questions, 40 in flight at a time.
    const acked = new Map<string, { seq: number; value: unknown }>();
    let next = 0;
    await Promise.all(
      takers.map(async () => {
        for (let i = next++; i < ANSWERS; i = next++) {
          const taker = takers[i % takers.length]!;
          const q = taker.questions[Math.floor(i / takers.length) % taker.questions.length]!;
          const seq = i + 1;
          const value = valueFor(q, seq);
          const res = await json<{ acked: { questionId: string; seq: number }[] }>(
            fetch(`${base}/attempts/${taker.attemptId}/answers`, {
              method: 'PUT',
              headers: taker.headers,
              body: JSON.stringify({ answers: [{ questionId: q.id, value, seq }] }),
            }),
          );
          assert.equal(res.acked[0]?.seq, seq);
          const key = `${taker.attemptId}/${q.id}`;
          if ((acked.get(key)?.seq ?? -1) < seq) acked.set(key, { seq, value });
        }
      }),
    );
    child.kill('SIGKILL'); // right after the last acknowledgement
    await once(child, 'exit');
    assert.ok(acked.size > 100);

    const db = await openDb();
    try {
      const lost = await lostAnswers(db, acked);
      assert.equal(lost, 0, `${lost} acknowledged answers lost of ${acked.size}`);
    } finally {
      await db.close();
    }
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

const baseEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: process.env.EXAMDAY_TEST_SERVER_LOG ? 'info' : 'warn', SEED_DEMO: 'false', ...extra };
  // The child decides its adapters from these; each run sets its own.
  delete env.REDIS_URL;
  if (!extra.DATABASE_URL) delete env.DATABASE_URL;
  return env;
};

describe('acknowledged answers survive SIGKILL', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanups) await c();
  });

  it('on PGlite', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'examday-crash-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await crashAndCheck(baseEnv({ EXAMDAY_DATA_DIR: dir }), () => openPglite({ slowQueryMs: 60_000, dataDir: path.join(dir, 'pgdata') }), dir);
  });

  it('SIGTERM drains in-flight autosaves, keeps every acknowledged one and exits cleanly (PGlite)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'examday-term-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const { child, base, takers } = await prepare(baseEnv({ EXAMDAY_DATA_DIR: dir }), dir);
    const acked = new Map<string, { seq: number; value: unknown }>();
    let refused = 0;
    const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
    const saves = takers.flatMap((taker) =>
      taker.questions.map(async (q, i) => {
        const seq = i + 1;
        const value = valueFor(q, seq);
        try {
          const res = await fetch(`${base}/attempts/${taker.attemptId}/answers`, {
            method: 'PUT',
            headers: taker.headers,
            body: JSON.stringify({ answers: [{ questionId: q.id, value, seq }] }),
          });
          if (res.ok) acked.set(`${taker.attemptId}/${q.id}`, { seq, value });
          else refused++;
        } catch {
          refused++; // connection closed by the shutdown: not acknowledged, so the client keeps it
        }
      }),
    );
    setTimeout(() => child.kill('SIGTERM'), 5);
    await Promise.all(saves);
    const [code] = await exited;
    assert.equal(code, 0, 'graceful shutdown exits 0');
    assert.ok(acked.size + refused === takers.length * takers[0]!.questions.length);
    const db = await openPglite({ slowQueryMs: 60_000, dataDir: path.join(dir, 'pgdata') });
    try {
      assert.equal(await lostAnswers(db, acked), 0);
    } finally {
      await db.close();
    }
  });

  const pgUrl = process.env.DATABASE_URL;
  it('on PostgreSQL', { skip: pgUrl ? false : 'DATABASE_URL not set' }, async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'examday-crash-'));
    const created = await createTestPostgresDatabase(pgUrl!);
    cleanups.push(() => rm(dir, { recursive: true, force: true }), () => created.drop());
    await crashAndCheck(
      baseEnv({ EXAMDAY_DATA_DIR: dir, DATABASE_URL: created.url }),
      () => openPostgres({ slowQueryMs: 60_000, url: created.url, poolMax: 2, statementTimeoutMs: 0 }),
      dir,
    );
  });
});
