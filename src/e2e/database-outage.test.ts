/**
 * PostgreSQL goes away in the middle of an exam (a restart, a failover, a
 * network blip) and comes back. A real `examday serve` reaches its database
 * through a TCP proxy that the test cuts: every connection ends under the
 * pool and new ones are refused. While it is cut, an autosave is answered 503
 * `unavailable` with Retry-After (the web client keeps the answer and retries
 * then), never a 500, and the process stays up and healthy; once the proxy
 * is back, the same saves go through on new connections, and every
 * acknowledged answer is in the database.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openPostgres } from '../platform/db/postgres.ts';
import { createTestPostgresDatabase } from '../testing/db.ts';
import { valueFor } from '../testing/exam.ts';
import { ack, lostAnswers, saveAnswer, seatTakers, type Acked } from '../testing/takers.ts';
import { startTcpProxy, throughProxy } from '../testing/tcp-proxy.ts';

const CANDIDATES = 20;
const pgUrl = process.env.DATABASE_URL;

describe('a database outage mid-exam', { skip: pgUrl ? false : 'DATABASE_URL not set' }, () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('answers 503 unavailable while PostgreSQL is gone, then saves again; nothing acknowledged is lost', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'examday-outage-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const created = await createTestPostgresDatabase(pgUrl!);
    cleanups.push(() => created.drop());
    const direct = new URL(created.url);
    const proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
    cleanups.push(() => proxy.close());

    const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', SEED_DEMO: 'false', EXAMDAY_DATA_DIR: dir, DATABASE_URL: throughProxy(created.url, proxy) };
    delete env.REDIS_URL;
    const { server, base, takers } = await seatTakers(env, dir, CANDIDATES);
    cleanups.push(() => server.kill());
    const acked: Acked = new Map();

    // Before: every save is acknowledged.
    await Promise.all(
      takers.map(async (taker) => {
        const q = taker.questions[0]!;
        const res = await saveAnswer(base, taker, q, valueFor(q, 1), 1);
        assert.equal(res.status, 200, await res.text());
        ack(acked, taker, q, 1, valueFor(q, 1));
      }),
    );

    // Every candidate keeps saving; the database goes away under saves in flight and comes back.
    let phase: 'up' | 'cut' | 'back' = 'up';
    const seen = { refusedWhileCut: 0, savedAfter: 0 };
    const wrong: string[] = [];
    const savers = takers.map(async (taker) => {
      const q = taker.questions[1]!;
      let savedAfter = false;
      for (let seq = 2; !savedAfter; seq++) {
        const at = phase;
        const value = valueFor(q, seq);
        const res = await saveAnswer(base, taker, q, value, seq).catch((err: unknown) => err as Error);
        if (res instanceof Error) {
          wrong.push(`no answer (${res.message}); server exit code ${server.child.exitCode}: ${server.output().slice(-1500)}`);
          return;
        }
        const body = (await res.json()) as { code?: string };
        if (res.status === 200) {
          ack(acked, taker, q, seq, value);
          if (at === 'back') savedAfter = true;
        } else if (res.status === 503 && body.code === 'unavailable' && res.headers.get('retry-after') === '2' && /problem\+json/.test(res.headers.get('content-type') ?? '')) {
          if (at === 'cut') seen.refusedWhileCut++;
        } else {
          wrong.push(`${res.status} ${res.headers.get('content-type')} ${JSON.stringify(body)}`);
        }
        if (res.status !== 200) await new Promise((r) => setTimeout(r, 20));
      }
      seen.savedAfter++;
    });
    await new Promise((r) => setTimeout(r, 300));
    await proxy.cut();
    phase = 'cut';
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await fetch(base.replace('/api/v1', '/healthz'))).status, 200, 'the process is alive and answering');
    await proxy.restore();
    phase = 'back';
    await Promise.all(savers);

    assert.deepEqual(wrong, [], 'every answer is an acknowledgement or a 503 unavailable with Retry-After');
    assert.ok(seen.refusedWhileCut >= CANDIDATES, `each candidate was refused while the database was gone (${seen.refusedWhileCut})`);
    assert.equal(seen.savedAfter, CANDIDATES);
    assert.equal(server.child.exitCode, null, 'the server never exited');
    const output = server.output();
    assert.ok(!output.includes('unhandled error'), output.slice(-2000));
    assert.match(output, /database unreachable; answered 503/);

    const db = await openPostgres({ slowQueryMs: 60_000, url: created.url, poolMax: 1, statementTimeoutMs: 0 });
    try {
      assert.equal(acked.size, CANDIDATES * 2);
      assert.equal(await lostAnswers(db, acked), 0);
    } finally {
      await db.close();
    }
  });
});
