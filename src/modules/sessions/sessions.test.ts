import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { VersionContent } from '../assessments/content.ts';
import { createTestApp, type Actor, type TestApp } from '../../testing/app.ts';
import { dbTargets } from '../../testing/db.ts';

interface Problem {
  code: string;
  detail: string;
  errors?: { path: string; message: string }[];
}
interface SessionJson {
  id: string;
  assessmentId: string;
  assessmentVersionId: string;
  ownerId: string;
  district: string;
  capacity: number;
  booked: number;
  seatsLeft: number;
  startsAt: string;
  endsAt: string;
}
interface BookingJson {
  id: string;
  sessionId: string;
  candidateId: string;
  status: 'active' | 'cancelled';
  attemptId: string | null;
  attemptStatus: string | null;
}
interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

const HOUR = 3600_000;
const at = (msFromNow: number) => new Date(Date.now() + msFromNow).toISOString();
let unique = 0;
const uniq = (prefix: string) => `${prefix}-${++unique}-${process.pid}`;

for (const target of dbTargets()) {
  describe(`sessions and booking (${target.name})`, () => {
    let t: TestApp;
    let admin: Actor;
    let authorA: Actor;
    let authorB: Actor;

    before(async () => {
      t = await createTestApp(target);
      admin = await t.staff('admin');
      authorA = await t.staff('author');
      authorB = await t.staff('author');
    });
    after(() => t.close());

    /** A published assessment written straight to the database (independent of the assessments routes). */
    async function publishedAssessment(ownerId: string, published = true): Promise<{ id: string; versionId: string | null }> {
      const k = t.ctx.db.kysely;
      const title = uniq('Assessment');
      const a = await k
        .insertInto('assessments')
        .values({ owner_id: ownerId, title, items: '[]', time_limit_s: 600, latest_version: published ? 1 : 0 })
        .returning('id')
        .executeTakeFirstOrThrow();
      if (!published) return { id: a.id, versionId: null };
      const content: VersionContent = {
        title,
        description: '',
        timeLimitS: 600,
        shuffleItems: false,
        shuffleOptions: false,
        releasePolicy: 'on_submit',
        sections: [{ kind: 'fixed', questionId: 'q1' }],
        questions: { q1: { id: 'q1', type: 'true_false', stem: 'The sky is blue.', answer: true, points: 1 } },
      };
      const v = await k
        .insertInto('assessment_versions')
        .values({ assessment_id: a.id, version: 1, content: JSON.stringify(content), max_score: 1 })
        .returning('id')
        .executeTakeFirstOrThrow();
      return { id: a.id, versionId: v.id };
    }

    async function createSession(
      who: Actor,
      body: { assessmentId: string; district: string; capacity: number; startsAt?: string; endsAt?: string; title?: string },
    ): Promise<SessionJson> {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/sessions',
        headers: who.headers,
        payload: { startsAt: at(HOUR), endsAt: at(2 * HOUR), ...body },
      });
      assert.equal(res.statusCode, 201, res.body);
      return res.json<SessionJson>();
    }

    const book = (who: Actor, sessionId: string, candidateId?: string) =>
      t.app.inject({
        method: 'POST',
        url: `/api/v1/sessions/${sessionId}/bookings`,
        headers: who.headers,
        ...(candidateId ? { payload: { candidateId } } : {}),
      });

    const seats = async (sessionId: string) =>
      (await t.ctx.db.kysely.selectFrom('exam_sessions').select(['booked', 'capacity']).where('id', '=', sessionId).executeTakeFirstOrThrow())
        .booked;

    describe('sessions', () => {
      it('creates a session pinned to the latest published version', async () => {
        const a = await publishedAssessment(authorA.id);
        const s = await createSession(authorA, { assessmentId: a.id, district: 'north', capacity: 30, title: 'Morning' });
        assert.equal(s.assessmentVersionId, a.versionId);
        assert.equal(s.ownerId, authorA.id);
        assert.deepEqual([s.capacity, s.booked, s.seatsLeft], [30, 0, 30]);
      });

      it('refuses unpublished assessments, foreign assessments and bad input', async () => {
        const draft = await publishedAssessment(authorA.id, false);
        const res = await t.app.inject({
          method: 'POST',
          url: '/api/v1/sessions',
          headers: authorA.headers,
          payload: { assessmentId: draft.id, district: 'north', capacity: 5, startsAt: at(HOUR), endsAt: at(2 * HOUR) },
        });
        assert.equal(res.statusCode, 409);
        assert.equal(res.json<Problem>().code, 'not_published');

        const mine = await publishedAssessment(authorA.id);
        const foreign = await t.app.inject({
          method: 'POST',
          url: '/api/v1/sessions',
          headers: authorB.headers,
          payload: { assessmentId: mine.id, district: 'north', capacity: 5, startsAt: at(HOUR), endsAt: at(2 * HOUR) },
        });
        assert.equal(foreign.statusCode, 404);

        const cases: [Record<string, unknown>, string][] = [
          [{ capacity: 0 }, 'capacity'],
          [{ capacity: 100_001 }, 'capacity'],
          [{ capacity: 2.5 }, 'capacity'],
          [{ startsAt: 'tomorrow' }, 'startsAt'],
          [{ district: '' }, 'district'],
          [{ endsAt: at(HOUR / 2) }, 'endsAt'],
          [{ startsAt: at(-3 * HOUR), endsAt: at(-2 * HOUR) }, 'endsAt'],
        ];
        for (const [patch, path] of cases) {
          const bad = await t.app.inject({
            method: 'POST',
            url: '/api/v1/sessions',
            headers: authorA.headers,
            payload: { assessmentId: mine.id, district: 'north', capacity: 5, startsAt: at(HOUR), endsAt: at(2 * HOUR), ...patch },
          });
          assert.equal(bad.statusCode, 400, JSON.stringify(patch));
          assert.match(String(bad.headers['content-type']), /application\/problem\+json/);
          const p = bad.json<Problem>();
          assert.equal(p.code, 'validation_failed');
          assert.ok(p.errors?.some((e) => e.path === path), `${JSON.stringify(patch)} → ${bad.body}`);
        }
      });

      it('an admin may schedule any assessment; the session belongs to its author', async () => {
        const a = await publishedAssessment(authorA.id);
        const s = await createSession(admin, { assessmentId: a.id, district: 'north', capacity: 3 });
        assert.equal(s.ownerId, authorA.id);
        const seen = await t.app.inject({ method: 'GET', url: `/api/v1/sessions/${s.id}`, headers: authorA.headers });
        assert.equal(seen.statusCode, 200);
      });

      it("hides author A's sessions from author B (404) on read, edit, delete and booking lists", async () => {
        const a = await publishedAssessment(authorA.id);
        const s = await createSession(authorA, { assessmentId: a.id, district: 'north', capacity: 3 });
        const cand = await t.candidate('north');
        const calls = [
          t.app.inject({ method: 'GET', url: `/api/v1/sessions/${s.id}`, headers: authorB.headers }),
          t.app.inject({ method: 'PATCH', url: `/api/v1/sessions/${s.id}`, headers: authorB.headers, payload: { capacity: 9 } }),
          t.app.inject({ method: 'DELETE', url: `/api/v1/sessions/${s.id}`, headers: authorB.headers }),
          t.app.inject({ method: 'GET', url: `/api/v1/bookings?sessionId=${s.id}`, headers: authorB.headers }),
          book(authorB, s.id, cand.id),
          t.app.inject({
            method: 'POST',
            url: '/api/v1/sessions/bulk-book',
            headers: authorB.headers,
            payload: { assessmentId: a.id, district: 'north' },
          }),
        ];
        for (const res of await Promise.all(calls)) {
          assert.equal(res.statusCode, 404, res.body);
          assert.equal(res.json<Problem>().code, 'not_found');
        }
        const listB = await t.app.inject({ method: 'GET', url: `/api/v1/sessions?assessmentId=${a.id}`, headers: authorB.headers });
        assert.deepEqual(listB.json<Page<SessionJson>>().items, []);
        const listAdmin = await t.app.inject({ method: 'GET', url: `/api/v1/sessions?assessmentId=${a.id}`, headers: admin.headers });
        assert.equal(listAdmin.json<Page<SessionJson>>().items.length, 1);
      });

      it('candidates list the open sessions of their district, with seats left', async () => {
        const district = uniq('listing');
        const a = await publishedAssessment(authorA.id);
        const open = await createSession(authorA, { assessmentId: a.id, district, capacity: 4 });
        const ended = await createSession(authorA, { assessmentId: a.id, district, capacity: 4 });
        await t.app.inject({
          method: 'PATCH',
          url: `/api/v1/sessions/${ended.id}`,
          headers: authorA.headers,
          payload: { startsAt: at(-2 * HOUR), endsAt: at(-HOUR) },
        });
        await createSession(authorA, { assessmentId: a.id, district: uniq('elsewhere'), capacity: 4 });
        const cand = await t.candidate(district);
        assert.equal((await book(cand, open.id)).statusCode, 201);
        const res = await t.app.inject({ method: 'GET', url: '/api/v1/sessions', headers: cand.headers });
        assert.equal(res.statusCode, 200, res.body);
        const items = res.json<Page<SessionJson>>().items;
        assert.deepEqual(
          items.map((s) => [s.id, s.seatsLeft]),
          [[open.id, 3]],
        );
        const other = await t.candidate(uniq('nowhere'));
        const hidden = await t.app.inject({ method: 'GET', url: `/api/v1/sessions/${open.id}`, headers: other.headers });
        assert.equal(hidden.statusCode, 404);
      });

      it('pages sessions in start order without repeats', async () => {
        const district = uniq('paging');
        const a = await publishedAssessment(authorA.id);
        for (let i = 0; i < 5; i++) {
          await createSession(authorA, { assessmentId: a.id, district, capacity: 1, startsAt: at((5 - i) * HOUR), endsAt: at((6 - i) * HOUR) });
        }
        const starts: string[] = [];
        let cursor: string | null = null;
        do {
          const url: string = `/api/v1/sessions?district=${district}&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
          const res = await t.app.inject({ method: 'GET', url, headers: authorA.headers });
          const body = res.json<Page<SessionJson>>();
          starts.push(...body.items.map((s) => s.startsAt));
          cursor = body.nextCursor;
        } while (cursor);
        assert.equal(starts.length, 5);
        assert.deepEqual(starts, [...starts].sort());
      });

      it('capacity cannot go below the seats booked (409), window must stay valid (400)', async () => {
        const district = uniq('cap');
        const a = await publishedAssessment(authorA.id);
        const s = await createSession(authorA, { assessmentId: a.id, district, capacity: 5 });
        for (let i = 0; i < 3; i++) assert.equal((await book(await t.candidate(district), s.id)).statusCode, 201);
        const low = await t.app.inject({ method: 'PATCH', url: `/api/v1/sessions/${s.id}`, headers: authorA.headers, payload: { capacity: 2 } });
        assert.equal(low.statusCode, 409);
        assert.equal(low.json<Problem>().code, 'conflict');
        assert.match(low.json<Problem>().detail, /below the 3 seats already booked/);
        const ok = await t.app.inject({ method: 'PATCH', url: `/api/v1/sessions/${s.id}`, headers: authorA.headers, payload: { capacity: 3, title: 'Hall B' } });
        assert.equal(ok.statusCode, 200, ok.body);
        assert.deepEqual([ok.json<SessionJson>().capacity, ok.json<SessionJson>().seatsLeft], [3, 0]);
        const window = await t.app.inject({
          method: 'PATCH',
          url: `/api/v1/sessions/${s.id}`,
          headers: authorA.headers,
          payload: { endsAt: at(HOUR / 2) },
        });
        assert.equal(window.statusCode, 400);
        assert.equal(window.json<Problem>().code, 'validation_failed');
        const empty = await t.app.inject({ method: 'PATCH', url: `/api/v1/sessions/${s.id}`, headers: authorA.headers, payload: {} });
        assert.equal(empty.statusCode, 400);
      });

      it('deletes a session nobody started; refuses once an attempt exists', async () => {
        const district = uniq('del');
        const a = await publishedAssessment(authorA.id);
        const s1 = await createSession(authorA, { assessmentId: a.id, district, capacity: 2 });
        assert.equal((await book(await t.candidate(district), s1.id)).statusCode, 201);
        const del = await t.app.inject({ method: 'DELETE', url: `/api/v1/sessions/${s1.id}`, headers: authorA.headers });
        assert.equal(del.statusCode, 204);
        assert.equal((await t.app.inject({ method: 'GET', url: `/api/v1/sessions/${s1.id}`, headers: authorA.headers })).statusCode, 404);

        const s2 = await createSession(authorA, { assessmentId: a.id, district, capacity: 2 });
        const cand = await t.candidate(district);
        const booking = (await book(cand, s2.id)).json<{ booking: BookingJson }>().booking;
        await startAttempt(booking.id, cand.id, s2);
        const refused = await t.app.inject({ method: 'DELETE', url: `/api/v1/sessions/${s2.id}`, headers: authorA.headers });
        assert.equal(refused.statusCode, 409);
      });
    });

    /** An attempt row written directly: the attempts module decides how attempts start; only its existence matters here. */
    async function startAttempt(bookingId: string, candidateId: string, s: SessionJson): Promise<void> {
      await t.ctx.db.kysely
        .insertInto('attempts')
        .values({
          booking_id: bookingId,
          candidate_id: candidateId,
          session_id: s.id,
          assessment_version_id: s.assessmentVersionId,
          seed: 1,
          deadline_at: at(HOUR),
        })
        .execute();
    }

    describe('booking', () => {
      it('a candidate books, signs in with the booking code, cancels, and can book again', async () => {
        const district = uniq('book');
        const a = await publishedAssessment(authorA.id);
        const s = await createSession(authorA, { assessmentId: a.id, district, capacity: 1 });
        const cand = await t.candidate(district);
        const res = await book(cand, s.id);
        assert.equal(res.statusCode, 201, res.body);
        const { booking, accessCode } = res.json<{ booking: BookingJson; accessCode: string }>();
        assert.equal(booking.status, 'active');
        assert.equal(booking.candidateId, cand.id);
        assert.equal(await seats(s.id), 1);

        const login = await t.app.inject({ method: 'POST', url: '/api/v1/auth/access-code', payload: { code: accessCode } });
        assert.equal(login.statusCode, 200, login.body);
        assert.equal(login.json<{ bookingId: string }>().bookingId, booking.id);

        const other = await t.candidate(district);
        const full = await book(other, s.id);
        assert.equal(full.statusCode, 409);
        assert.equal(full.json<Problem>().code, 'session_full');

        const cancel = await t.app.inject({ method: 'DELETE', url: `/api/v1/bookings/${booking.id}`, headers: cand.headers });
        assert.equal(cancel.statusCode, 200, cancel.body);
        assert.equal(cancel.json<BookingJson>().status, 'cancelled');
        assert.equal(await seats(s.id), 0);
        const again = await t.app.inject({ method: 'DELETE', url: `/api/v1/bookings/${booking.id}`, headers: cand.headers });
        assert.equal(again.statusCode, 200, 'cancelling twice is harmless');
        assert.equal(await seats(s.id), 0);
        const revoked = await t.app.inject({ method: 'POST', url: '/api/v1/auth/access-code', payload: { code: accessCode } });
        assert.equal(revoked.statusCode, 401);

        assert.equal((await book(other, s.id)).statusCode, 201, 'the freed seat can be taken');
        assert.equal((await book(cand, s.id)).json<Problem>().code, 'session_full');
      });

      it('one active booking per assessment; another assessment is fine', async () => {
        const district = uniq('one');
        const a = await publishedAssessment(authorA.id);
        const b = await publishedAssessment(authorA.id);
        const s1 = await createSession(authorA, { assessmentId: a.id, district, capacity: 5 });
        const s2 = await createSession(authorA, { assessmentId: a.id, district, capacity: 5 });
        const s3 = await createSession(authorA, { assessmentId: b.id, district, capacity: 5 });
        const cand = await t.candidate(district);
        assert.equal((await book(cand, s1.id)).statusCode, 201);
        const second = await book(cand, s2.id);
        assert.equal(second.statusCode, 409);
        assert.equal(second.json<Problem>().code, 'already_booked');
        assert.equal(await seats(s2.id), 0);
        assert.equal((await book(cand, s3.id)).statusCode, 201);
      });

      it("a code's sign-in answer carries every active booking, as the start page would ask for them", async () => {
        const district = uniq('start');
        const s1 = await createSession(authorA, { assessmentId: (await publishedAssessment(authorA.id)).id, district, capacity: 5 });
        const s2 = await createSession(authorA, { assessmentId: (await publishedAssessment(authorA.id)).id, district, capacity: 5 });
        const cand = await t.candidate(district);
        const first = (await book(cand, s1.id)).json<{ booking: BookingJson; accessCode: string }>();
        const second = (await book(cand, s2.id)).json<{ booking: BookingJson; accessCode: string }>();
        const cancelled = await book(cand, (await createSession(authorA, { assessmentId: (await publishedAssessment(authorA.id)).id, district, capacity: 5 })).id);
        await t.app.inject({ method: 'DELETE', url: `/api/v1/bookings/${cancelled.json<{ booking: BookingJson }>().booking.id}`, headers: cand.headers });

        const login = await t.app.inject({ method: 'POST', url: '/api/v1/auth/access-code', payload: { code: second.accessCode } });
        assert.equal(login.statusCode, 200, login.body);
        const body = login.json<{ bookingId: string; accessToken: string; bookings: Page<BookingJson> }>();
        assert.equal(body.bookingId, second.booking.id);
        const asked = await t.app.inject({
          method: 'GET',
          url: '/api/v1/bookings?status=active&limit=100',
          headers: { authorization: `Bearer ${body.accessToken}` },
        });
        assert.deepEqual(body.bookings, asked.json<Page<BookingJson>>());
        assert.deepEqual(body.bookings.items.map((b) => b.id).sort(), [first.booking.id, second.booking.id].sort());
      });

      it('refuses another district, an ended session, a disabled account and booking for others', async () => {
        const district = uniq('rules');
        const a = await publishedAssessment(authorA.id);
        const s = await createSession(authorA, { assessmentId: a.id, district, capacity: 5 });
        const outsider = await t.candidate(uniq('far'));
        const mismatch = await book(outsider, s.id);
        assert.equal(mismatch.statusCode, 409);
        assert.equal(mismatch.json<Problem>().code, 'district_mismatch');
        assert.match(mismatch.json<Problem>().detail, new RegExp(`district "${district}"`));
        const staffMismatch = await book(authorA, s.id, outsider.id);
        assert.equal(staffMismatch.json<Problem>().code, 'district_mismatch');

        const ended = await createSession(authorA, { assessmentId: a.id, district, capacity: 5 });
        const patched = await t.app.inject({
          method: 'PATCH',
          url: `/api/v1/sessions/${ended.id}`,
          headers: authorA.headers,
          payload: { startsAt: at(-3 * HOUR), endsAt: at(-HOUR) },
        });
        assert.equal(patched.statusCode, 200, patched.body);
        const cand = await t.candidate(district);
        const closed = await book(cand, ended.id);
        assert.equal(closed.statusCode, 409);
        assert.equal(closed.json<Problem>().code, 'booking_closed');

        const mate = await t.candidate(district);
        const forOther = await book(cand, s.id, mate.id);
        assert.equal(forOther.statusCode, 403);
        const noCandidate = await book(authorA, s.id);
        assert.equal(noCandidate.statusCode, 400);
        assert.equal(noCandidate.json<Problem>().code, 'validation_failed');
        const staffAsCandidate = await book(authorA, s.id, authorB.id);
        assert.equal(staffAsCandidate.statusCode, 404);

        await t.ctx.users.update(mate.id, { disabled: true });
        const disabled = await book(authorA, s.id, mate.id);
        assert.equal(disabled.statusCode, 403);
        assert.equal(await seats(s.id), 0);

        const byStaff = await book(authorA, s.id, cand.id);
        assert.equal(byStaff.statusCode, 201, byStaff.body);
      });

      it('cannot cancel once the exam was started', async () => {
        const district = uniq('started');
        const a = await publishedAssessment(authorA.id);
        const s = await createSession(authorA, { assessmentId: a.id, district, capacity: 2 });
        const cand = await t.candidate(district);
        const { booking } = (await book(cand, s.id)).json<{ booking: BookingJson }>();
        await startAttempt(booking.id, cand.id, s);
        const res = await t.app.inject({ method: 'DELETE', url: `/api/v1/bookings/${booking.id}`, headers: authorA.headers });
        assert.equal(res.statusCode, 409);
        assert.match(res.json<Problem>().detail, /already started/);
        assert.equal(await seats(s.id), 1);
        const listed = await t.app.inject({ method: 'GET', url: `/api/v1/bookings/${booking.id}`, headers: cand.headers });
        assert.ok(listed.json<BookingJson>().attemptId);
        assert.equal(listed.json<BookingJson>().attemptStatus, 'in_progress');
      });

      it('lists bookings by role', async () => {
        const district = uniq('lists');
        const a = await publishedAssessment(authorA.id);
        const s = await createSession(authorA, { assessmentId: a.id, district, capacity: 5 });
        const c1 = await t.candidate(district);
        const c2 = await t.candidate(district);
        const b1 = (await book(c1, s.id)).json<{ booking: BookingJson }>().booking;
        await book(c2, s.id);
        const mine = await t.app.inject({ method: 'GET', url: '/api/v1/bookings', headers: c1.headers });
        assert.deepEqual(
          mine.json<Page<BookingJson>>().items.map((b) => b.id),
          [b1.id],
        );
        const own = await t.app.inject({ method: 'GET', url: `/api/v1/bookings?sessionId=${s.id}`, headers: authorA.headers });
        assert.equal(own.json<Page<BookingJson>>().items.length, 2);
        const foreign = await t.app.inject({ method: 'GET', url: '/api/v1/bookings', headers: authorB.headers });
        assert.ok(foreign.json<Page<BookingJson>>().items.every((b) => b.sessionId !== s.id));
        const notYours = await t.app.inject({ method: 'DELETE', url: `/api/v1/bookings/${b1.id}`, headers: c2.headers });
        assert.equal(notYours.statusCode, 404);
        const notYoursB = await t.app.inject({ method: 'DELETE', url: `/api/v1/bookings/${b1.id}`, headers: authorB.headers });
        assert.equal(notYoursB.statusCode, 404);
      });

      it('candidates opening their dashboards together each see their own bookings, newest first, paged', async () => {
        const district = uniq('dash');
        const sessions = [];
        for (let i = 0; i < 3; i++) {
          const a = await publishedAssessment(authorA.id);
          sessions.push(await createSession(authorA, { assessmentId: a.id, district, capacity: 5 }));
        }
        const busy = await t.candidate(district);
        const busyBookings: string[] = [];
        for (const s of sessions) busyBookings.push((await book(busy, s.id)).json<{ booking: BookingJson }>().booking.id);
        const others = await Promise.all([t.candidate(district), t.candidate(district)]);
        const otherBookings = [(await book(others[0]!, sessions[0]!.id)).json<{ booking: BookingJson }>().booking.id];
        const list = (c: { headers: Record<string, string> }, query: string) =>
          t.app.inject({ method: 'GET', url: `/api/v1/bookings${query}`, headers: c.headers });
        // One turn: the busy candidate with a page of 2, the same one with the default page, one with a booking, one with none.
        const [paged, whole, one, none] = await Promise.all([list(busy, '?limit=2'), list(busy, ''), list(others[0]!, '?limit=20'), list(others[1]!, '')]);
        const newestFirst = [...busyBookings].reverse();
        const p = paged.json<Page<BookingJson>>();
        assert.deepEqual(p.items.map((b) => b.id), newestFirst.slice(0, 2));
        assert.ok(p.nextCursor);
        assert.deepEqual(whole.json<Page<BookingJson>>().items.map((b) => b.id), newestFirst);
        assert.equal(whole.json<Page<BookingJson>>().nextCursor, null);
        assert.deepEqual(one.json<Page<BookingJson>>().items.map((b) => b.id), otherBookings);
        assert.deepEqual(none.json<Page<BookingJson>>(), { items: [], nextCursor: null });
        const rest = await list(busy, `?limit=2&cursor=${encodeURIComponent(p.nextCursor!)}`);
        assert.deepEqual(rest.json<Page<BookingJson>>().items.map((b) => b.id), newestFirst.slice(2));

        // The web app asks for the active ones; in the same turn as asks for all of them.
        const cancelled = busyBookings[0]!;
        const gone = await t.app.inject({ method: 'DELETE', url: `/api/v1/bookings/${cancelled}`, headers: busy.headers });
        assert.equal(gone.statusCode, 200);
        const [active, all, othersActive, onlyCancelled] = await Promise.all([
          list(busy, '?status=active&limit=100'),
          list(busy, ''),
          list(others[0]!, '?status=active&limit=100'),
          list(busy, '?status=cancelled'),
        ]);
        assert.deepEqual(active.json<Page<BookingJson>>().items.map((b) => b.id), newestFirst.filter((id) => id !== cancelled));
        assert.deepEqual(all.json<Page<BookingJson>>().items.map((b) => b.id), newestFirst);
        assert.deepEqual(othersActive.json<Page<BookingJson>>().items.map((b) => b.id), otherBookings);
        assert.deepEqual(onlyCancelled.json<Page<BookingJson>>().items.map((b) => [b.id, b.status]), [[cancelled, 'cancelled']]);
      });
    });

    describe('concurrency', () => {
      it('capacity 5, 20 candidates at once: exactly 5 seats taken, 15 session_full', async () => {
        const district = uniq('rush');
        const a = await publishedAssessment(authorA.id);
        const s = await createSession(authorA, { assessmentId: a.id, district, capacity: 5 });
        const cands = await Promise.all(Array.from({ length: 20 }, () => t.candidate(district)));
        const results = await Promise.all(cands.map((c) => book(c, s.id)));
        const codes = results.map((r) => r.statusCode);
        assert.equal(codes.filter((c) => c === 201).length, 5, codes.join(','));
        const refused = results.filter((r) => r.statusCode !== 201);
        assert.equal(refused.length, 15);
        for (const r of refused) {
          assert.equal(r.statusCode, 409);
          assert.equal(r.json<Problem>().code, 'session_full');
        }
        assert.equal(await seats(s.id), 5);
        const active = await t.ctx.db.kysely
          .selectFrom('bookings')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('session_id', '=', s.id)
          .where('status', '=', 'active')
          .executeTakeFirstOrThrow();
        assert.equal(Number(active.n), 5);
      });

      it('one candidate booking two sessions of one assessment at once: exactly one succeeds', async () => {
        const district = uniq('twice');
        const a = await publishedAssessment(authorA.id);
        const s1 = await createSession(authorA, { assessmentId: a.id, district, capacity: 5 });
        const s2 = await createSession(authorA, { assessmentId: a.id, district, capacity: 5 });
        const cand = await t.candidate(district);
        for (let round = 0; round < 3; round++) {
          const [r1, r2] = await Promise.all([book(cand, s1.id), book(cand, s2.id)]);
          const ok = [r1, r2].filter((r) => r.statusCode === 201);
          assert.equal(ok.length, 1, `${r1.body} ${r2.body}`);
          const loser = r1.statusCode === 201 ? r2 : r1;
          assert.equal(loser.statusCode, 409);
          assert.equal(loser.json<Problem>().code, 'already_booked');
          assert.equal((await seats(s1.id)) + (await seats(s2.id)), 1);
          const { booking } = ok[0]!.json<{ booking: BookingJson }>();
          const cancel = await t.app.inject({ method: 'DELETE', url: `/api/v1/bookings/${booking.id}`, headers: cand.headers });
          assert.equal(cancel.statusCode, 200);
        }
      });
    });

    describe('bulk booking', () => {
      it('fills sessions in start order, counts the overflow as unplaced, skips the already booked', async () => {
        const district = uniq('bulk');
        const a = await publishedAssessment(authorA.id);
        // Created later-first, to show that placement follows start time, not creation order.
        const late = await createSession(authorA, { assessmentId: a.id, district, capacity: 2, startsAt: at(5 * HOUR), endsAt: at(6 * HOUR) });
        const early = await createSession(authorA, { assessmentId: a.id, district, capacity: 3, startsAt: at(HOUR), endsAt: at(2 * HOUR) });
        const imported = await t.ctx.users.importCandidates(
          ['name,district', ...Array.from({ length: 7 }, (_, i) => `Bulk ${String.fromCharCode(65 + i)},${district}`)].join('\n'),
        );
        assert.equal(imported.created, 7);
        // One candidate booked themself already: stays where they are.
        const self = await t.candidate(district, 'Aaron Early');
        assert.equal((await book(self, late.id)).statusCode, 201);
        // Another district's candidates are not touched.
        await t.candidate(uniq('other'));

        const res = await t.app.inject({
          method: 'POST',
          url: '/api/v1/sessions/bulk-book',
          headers: authorA.headers,
          payload: { assessmentId: a.id, district },
        });
        assert.equal(res.statusCode, 200, res.body);
        const body = res.json<{ booked: number; unplaced: number; perSession: { sessionId: string; booked: number }[] }>();
        assert.deepEqual(body, {
          booked: 4,
          unplaced: 3,
          perSession: [
            { sessionId: early.id, booked: 3 },
            { sessionId: late.id, booked: 1 },
          ],
        });
        assert.equal(await seats(early.id), 3);
        assert.equal(await seats(late.id), 2);

        // Alphabetical placement: Bulk A–C in the early session, Bulk D in the late one.
        const firstCode = imported.rows[0]!.accessCode!;
        const login = await t.app.inject({ method: 'POST', url: '/api/v1/auth/access-code', payload: { code: firstCode } });
        const token = login.json<{ accessToken: string }>().accessToken;
        const mine = await t.app.inject({ method: 'GET', url: '/api/v1/bookings', headers: { authorization: `Bearer ${token}` } });
        assert.deepEqual(
          mine.json<Page<BookingJson>>().items.map((b) => b.sessionId),
          [early.id],
        );

        const again = await t.app.inject({
          method: 'POST',
          url: '/api/v1/sessions/bulk-book',
          headers: admin.headers,
          payload: { assessmentId: a.id, district },
        });
        assert.deepEqual(again.json<{ booked: number; unplaced: number }>().booked, 0);
        assert.deepEqual(again.json<{ booked: number; unplaced: number }>().unplaced, 3);

        // More seats: the rest are placed into the named session only.
        const extra = await createSession(authorA, { assessmentId: a.id, district, capacity: 10 });
        const named = await t.app.inject({
          method: 'POST',
          url: '/api/v1/sessions/bulk-book',
          headers: authorA.headers,
          payload: { assessmentId: a.id, district, sessionIds: [extra.id] },
        });
        assert.deepEqual(named.json(), { booked: 3, unplaced: 0, perSession: [{ sessionId: extra.id, booked: 3 }] });
      });

      it('rejects sessions that are not open sessions of the assessment in the district', async () => {
        const district = uniq('bulkbad');
        const a = await publishedAssessment(authorA.id);
        const b = await publishedAssessment(authorA.id);
        const wrong = await createSession(authorA, { assessmentId: b.id, district, capacity: 2 });
        const res = await t.app.inject({
          method: 'POST',
          url: '/api/v1/sessions/bulk-book',
          headers: authorA.headers,
          payload: { assessmentId: a.id, district, sessionIds: [wrong.id] },
        });
        assert.equal(res.statusCode, 400);
        assert.equal(res.json<Problem>().code, 'validation_failed');
        assert.match(res.json<Problem>().detail, new RegExp(wrong.id));
        const invalid = await t.app.inject({
          method: 'POST',
          url: '/api/v1/sessions/bulk-book',
          headers: authorA.headers,
          payload: { assessmentId: 'nope', district: '' },
        });
        assert.equal(invalid.statusCode, 400);
        const cand = await t.candidate(district);
        const forbidden = await t.app.inject({
          method: 'POST',
          url: '/api/v1/sessions/bulk-book',
          headers: cand.headers,
          payload: { assessmentId: a.id, district },
        });
        assert.equal(forbidden.statusCode, 403);
      });
    });
  });
}
