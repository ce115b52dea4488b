/**
 * No overbooking under a storm: 500 candidates book a 100-seat session at the
 * same moment; exactly 100 bookings exist afterwards, the seat counter agrees,
 * and everyone else got a clear 409 session_full.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { dbTargets } from '../testing/db.ts';
import { createTestApp, type TestApp } from '../testing/app.ts';
import { questionBody, questionInputSchema } from '../modules/questions/model.ts';
import { publishAssessment } from '../modules/assessments/publish.ts';

const CANDIDATES = 500;
const SEATS = 100;

for (const target of dbTargets()) {
  describe(`booking storm (${target.name})`, () => {
    let t: TestApp;
    before(async () => {
      t = await createTestApp(target);
    });
    after(() => t.close());

    it(`${CANDIDATES} concurrent bookings for ${SEATS} seats end in exactly ${SEATS}`, async () => {
      const k = t.ctx.db.kysely;
      const author = await t.staff('author');
      const cols = questionBody(questionInputSchema.parse({ type: 'true_false', stem: 'Storm?', correct: true }));
      const q = await k
        .insertInto('questions')
        .values({ owner_id: author.id, type: cols.type, stem: cols.stem, points: cols.points, tags: cols.tags, body: JSON.stringify(cols.body), status: 'approved' })
        .returning('id')
        .executeTakeFirstOrThrow();
      const a = await k
        .insertInto('assessments')
        .values({ owner_id: author.id, title: 'Storm', time_limit_s: 600, items: JSON.stringify([{ questionId: q.id }]) })
        .returning('id')
        .executeTakeFirstOrThrow();
      await publishAssessment(k, { id: author.id, role: 'author', district: null }, a.id);
      const session = await t.app.inject({
        method: 'POST',
        url: '/api/v1/sessions',
        headers: author.headers,
        payload: {
          assessmentId: a.id,
          district: 'storm',
          startsAt: new Date(Date.now() + 3_600_000).toISOString(),
          endsAt: new Date(Date.now() + 7_200_000).toISOString(),
          capacity: SEATS,
        },
      });
      assert.ok(session.statusCode < 300, session.body);
      const sessionId = (session.json() as { id: string }).id;

      const ids = await sql<{ id: string }>`
        INSERT INTO users (role, name, district)
        SELECT 'candidate', 'Storm ' || g, 'storm' FROM generate_series(1, ${CANDIDATES}) AS g
        RETURNING id`.execute(k);
      const tokens = ids.rows.map((r) => t.ctx.tokens.sign({ id: r.id, role: 'candidate', district: 'storm' }));

      // Like the web client: a 503 (database saturated, load shed) is retried after Retry-After, with jitter.
      let retried = 0;
      const book = async (token: string) => {
        for (;;) {
          const r = await t.app.inject({ method: 'POST', url: `/api/v1/sessions/${sessionId}/bookings`, headers: { authorization: `Bearer ${token}` }, payload: {} });
          if (r.statusCode !== 503) return r;
          retried++;
          await new Promise((resolve) => setTimeout(resolve, 200 + Math.random() * 800));
        }
      };
      const results = await Promise.all(tokens.map(book));
      if (retried) console.log(`# ${retried} bookings were answered 503 (busy) and retried`);
      const byStatus = new Map<number, number>();
      for (const r of results) byStatus.set(r.statusCode, (byStatus.get(r.statusCode) ?? 0) + 1);
      assert.equal(byStatus.get(201), SEATS, JSON.stringify([...byStatus]));
      assert.equal(byStatus.get(409), CANDIDATES - SEATS, JSON.stringify([...byStatus]));
      assert.ok(results.filter((r) => r.statusCode === 409).every((r) => (r.json() as { code: string }).code === 'session_full'));

      const count = await k
        .selectFrom('bookings')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('session_id', '=', sessionId)
        .where('status', '=', 'active')
        .executeTakeFirstOrThrow();
      assert.equal(Number(count.n), SEATS);
      const s = await k.selectFrom('exam_sessions').select(['booked', 'capacity']).where('id', '=', sessionId).executeTakeFirstOrThrow();
      assert.equal(s.booked, SEATS);
    });
  });
}
