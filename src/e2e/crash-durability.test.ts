/**
 * "An acknowledged answer is never lost": a real `examday serve` process takes
 * 1,000 autosaves, is SIGKILLed right after the last acknowledgement, and every
 * acknowledged answer is then read back from the database — on PGlite (files
 * under the data dir) and on PostgreSQL.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { openPglite } from '../platform/db/pglite.ts';
import { openPostgres } from '../platform/db/postgres.ts';
import type { Db } from '../platform/db/index.ts';
import { createTestPostgresDatabase } from '../testing/db.ts';
import { valueFor } from '../testing/exam.ts';
import { ack, lostAnswers, saveAnswer, seatTakers, type Acked } from '../testing/takers.ts';

const CANDIDATES = 40;
const ANSWERS = 1000;

async function crashAndCheck(env: NodeJS.ProcessEnv, openDb: () => Promise<Db>, workDir: string): Promise<void> {
  const { server, base, takers } = await seatTakers(env, workDir, CANDIDATES);
  const { child } = server;
  try {

    // 1,000 autosaves, spread over candidates and questions, 40 in flight at a time.
    const acked: Acked = new Map();
    let next = 0;
    await Promise.all(
      takers.map(async () => {
        for (let i = next++; i < ANSWERS; i = next++) {
          const taker = takers[i % takers.length]!;
          const q = taker.questions[Math.floor(i / takers.length) % taker.questions.length]!;
          const seq = i + 1;
          const value = valueFor(q, seq);
          const res = await saveAnswer(base, taker, q, value, seq);
          assert.equal(res.status, 200, await res.clone().text());
          const body = (await res.json()) as { acked: { questionId: string; seq: number }[] };
          assert.equal(body.acked[0]?.seq, seq);
          ack(acked, taker, q, seq, value);
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
    const { server, base, takers } = await seatTakers(baseEnv({ EXAMDAY_DATA_DIR: dir }), dir, CANDIDATES);
    const { child } = server;
    const acked: Acked = new Map();
    let refused = 0;
    const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
    const saves = takers.flatMap((taker) =>
      taker.questions.map(async (q, i) => {
        const seq = i + 1;
        const value = valueFor(q, seq);
        try {
          const res = await saveAnswer(base, taker, q, value, seq);
          if (res.ok) ack(acked, taker, q, seq, value);
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
