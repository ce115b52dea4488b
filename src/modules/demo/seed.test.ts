/**
 * Load-test data sets: `dropLoad` removes one set, with its attempts and
 * answers, and leaves every other set alone; a statement that lost a
 * deadlock runs again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { dbTargets } from '../../testing/db.ts';
import { createTestApp, type TestApp } from '../../testing/app.ts';
import { valueFor, type PaperQuestion } from '../../testing/exam.ts';
import { againOnConflict, dropLoad, seedLoad, type LoadCandidate } from './seed.ts';

for (const target of dbTargets()) {
  describe(`load-test data sets (${target.name})`, () => {
    let t: TestApp;
    before(async () => {
      t = await createTestApp(target);
    });
    after(() => t.close());

    /** Sign in with the code, start the exam and save one answer: rows in attempts and responses. */
    async function takePart(c: LoadCandidate): Promise<string> {
      const login = await t.app.inject({ method: 'POST', url: '/api/v1/auth/access-code', payload: { code: c.accessCode } });
      assert.equal(login.statusCode, 200, login.body);
      const headers = { authorization: `Bearer ${login.json<{ accessToken: string }>().accessToken}` };
      const start = await t.app.inject({ method: 'POST', url: `/api/v1/bookings/${c.bookingId}/attempt?include=paper`, headers });
      assert.equal(start.statusCode, 200, start.body);
      const attempt = start.json<{ id: string; paper: { questions: PaperQuestion[] } }>();
      const q = attempt.paper.questions[0]!;
      const save = await t.app.inject({
        method: 'PUT',
        url: `/api/v1/attempts/${attempt.id}/answers`,
        headers,
        payload: { answers: [{ questionId: q.id, value: valueFor(q, 1), seq: 1 }] },
      });
      assert.equal(save.statusCode, 200, save.body);
      return attempt.id;
    }

    it('removes one run, a few candidates per statement, with their attempts and answers', async () => {
      const gone: LoadCandidate[] = [];
      const kept: LoadCandidate[] = [];
      const dropped = await seedLoad(t.ctx, { candidates: 8, districts: 2, sessionsPerDistrict: 1 }, gone);
      const other = await seedLoad(t.ctx, { candidates: 3, districts: 1, sessionsPerDistrict: 1 }, kept);
      const goneAttempt = await takePart(gone[0]!);
      const keptAttempt = await takePart(kept[0]!);

      // 8 candidates, 3 per statement: three deletes and the author.
      assert.equal(await dropLoad(t.ctx.db.kysely, dropped.runTag, 3), 8);

      const k = t.ctx.db.kysely;
      const count = async (q: ReturnType<typeof sql<{ n: number }>>): Promise<number> => Number((await q.execute(k)).rows[0]!.n);
      assert.equal(await count(sql<{ n: number }>`SELECT count(*)::int AS n FROM users WHERE district LIKE ${`d%-${dropped.runTag}`}`), 0);
      assert.equal(await count(sql<{ n: number }>`SELECT count(*)::int AS n FROM users WHERE email = ${`loadtest-${dropped.runTag}@examday.local`}`), 0);
      assert.equal(await count(sql<{ n: number }>`SELECT count(*)::int AS n FROM attempts WHERE id = ${goneAttempt}::uuid`), 0);
      assert.equal(await count(sql<{ n: number }>`SELECT count(*)::int AS n FROM responses WHERE attempt_id = ${goneAttempt}::uuid`), 0);
      assert.equal(await count(sql<{ n: number }>`SELECT count(*)::int AS n FROM exam_sessions WHERE id = ANY(${gone.map((c) => c.sessionId)}::uuid[])`), 0);
      // The other run is untouched.
      assert.equal(await count(sql<{ n: number }>`SELECT count(*)::int AS n FROM users WHERE district LIKE ${`d%-${other.runTag}`}`), 3);
      assert.equal(await count(sql<{ n: number }>`SELECT count(*)::int AS n FROM responses WHERE attempt_id = ${keptAttempt}::uuid`), 1);
      // Nothing left to remove.
      assert.equal(await dropLoad(k, dropped.runTag, 3), 0);
    });

    it('refuses what is not a run tag', async () => {
      await assert.rejects(dropLoad(t.ctx.db.kysely, "x' OR '1'='1"), /not a load-test run tag/);
    });
  });
}

describe('againOnConflict', () => {
  const failing = (code: string, times: number) => {
    let calls = 0;
    const statement = async (): Promise<string> => {
      calls++;
      if (calls <= times) throw Object.assign(new Error(`failed with ${code}`), { code });
      return 'done';
    };
    return { statement, calls: () => calls };
  };

  it('runs a statement again after a deadlock or a serialization failure', async () => {
    for (const code of ['40P01', '40001']) {
      const f = failing(code, 2);
      assert.equal(await againOnConflict(f.statement), 'done');
      assert.equal(f.calls(), 3);
    }
  });

  it('gives up after the last try, and never retries other errors', async () => {
    const deadlocked = failing('40P01', 10);
    await assert.rejects(againOnConflict(deadlocked.statement, 3), /failed with 40P01/);
    assert.equal(deadlocked.calls(), 3);
    const broken = failing('23505', 1);
    await assert.rejects(againOnConflict(broken.statement), /failed with 23505/);
    assert.equal(broken.calls(), 1);
  });
});
