import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dbTargets } from '../../testing/db.ts';
import { createTestApp, type Actor, type TestApp } from '../../testing/app.ts';
import { AutosaveWriter } from './autosave.ts';
import { attemptView } from './routes.ts';
import { GRADING_MAX_HOLD_MS } from './grading.ts';
import { GRADING_QUEUE } from './service.ts';

interface Paper {
  attemptId: string;
  deadline: string;
  questions: { id: string; type: string; options?: { id: string }[] }[];
  optionOrder: Record<string, string[]>;
}

async function waitFor<T>(fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

for (const target of dbTargets()) {
  describe(`attempts (${target.name})`, () => {
    let t: TestApp;
    let author: Actor;
    let assessmentId: string;
    const qids: Record<string, string> = {};
    /** What the submit's answer is told about the grading gate. */
    let gradingsHeld = false;

    async function api(actor: Actor | undefined, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: unknown) {
      const res = await t.app.inject({
        method,
        url: `/api/v1${url}`,
        ...(actor ? { headers: actor.headers } : {}),
        ...(payload !== undefined ? { payload: payload as object } : {}),
      });
      return { status: res.statusCode, headers: res.headers, body: res.body ? (res.json() as Record<string, unknown>) : {} };
    }

    async function openSession(capacity = 10, startsInMs = -60_000, lengthMs = 3_600_000): Promise<string> {
      const r = await api(author, 'POST', '/sessions', {
        assessmentId,
        district: 'north',
        title: 'Morning',
        startsAt: new Date(Date.now() + startsInMs).toISOString(),
        endsAt: new Date(Date.now() + startsInMs + lengthMs).toISOString(),
        capacity,
      });
      assert.ok(r.status < 300, JSON.stringify(r.body));
      return r.body.id as string;
    }

    async function book(candidate: Actor, sessionId: string): Promise<string> {
      const r = await api(candidate, 'POST', `/sessions/${sessionId}/bookings`, {});
      assert.ok(r.status < 300, JSON.stringify(r.body));
      return (r.body.booking as { id: string }).id;
    }

    /** `n` candidates in one session, each with a started attempt. */
    async function startAttempts(n: number): Promise<{ c: Actor; id: string }[]> {
      const sessionId = await openSession(50);
      const candidates = await Promise.all(Array.from({ length: n }, () => t.candidate('north')));
      const attempts: { c: Actor; id: string }[] = [];
      for (const c of candidates) {
        const bookingId = await book(c, sessionId);
        attempts.push({ c, id: (await api(c, 'POST', `/bookings/${bookingId}/attempt`)).body.id as string });
      }
      return attempts;
    }

    before(async () => {
      t = await createTestApp(target, { ATTEMPT_GRACE_S: '2' }, { gradingsHeld: () => gradingsHeld });
      author = await t.staff('author');
      const inputs = [
        { type: 'single_choice', stem: 'Pick b', options: [{ id: 'a', text: 'A' }, { id: 'b', text: 'B' }, { id: 'c', text: 'C' }], correct: 'b', points: 2 },
        { type: 'true_false', stem: 'True?', correct: true },
        { type: 'numeric', stem: '6 x 7', answer: 42, tolerance: 0.5 },
        { type: 'short_text', stem: 'Capital of France', accepted: ['Paris'], match: 'normalized' },
      ];
      for (const input of inputs) {
        const r = await api(author, 'POST', '/questions', input);
        assert.ok(r.status < 300, JSON.stringify(r.body));
        const id = r.body.id as string;
        qids[input.type] = id;
        assert.equal((await api(author, 'POST', `/questions/${id}/approve`)).status, 200);
      }
      const a = await api(author, 'POST', '/assessments', {
        title: 'Attempt test',
        timeLimitS: 600,
        shuffleItems: true,
        shuffleOptions: true,
        items: Object.values(qids).map((questionId) => ({ questionId })),
      });
      assert.ok(a.status < 300, JSON.stringify(a.body));
      assessmentId = a.body.id as string;
      const p = await api(author, 'POST', `/assessments/${assessmentId}/publish`);
      assert.ok(p.status < 300, JSON.stringify(p.body));
      t.ctx.startWorkers();
    });
    after(() => t.close());

    it('refuses to start outside the session window', async () => {
      const later = await openSession(5, 3_600_000);
      const c = await t.candidate('north');
      const bookingId = await book(c, later);
      const r = await api(c, 'POST', `/bookings/${bookingId}/attempt`);
      assert.equal(r.status, 409);
      assert.equal(r.body.code, 'session_not_open');
    });

    it('starts once however often it is asked, only for the booking holder, never on a cancelled booking, and ends with the session', async () => {
      // The session closes in 5 minutes, before the paper's 10-minute limit: the deadline is the session's end.
      const sessionId = await openSession(10, -60_000, 6 * 60_000);
      const endsAt = Date.now() - 60_000 + 6 * 60_000;
      const c = await t.candidate('north');
      const bookingId = await book(c, sessionId);
      const other = await t.candidate('north');
      assert.equal((await api(other, 'POST', `/bookings/${bookingId}/attempt`)).status, 404);

      const starts = await Promise.all(Array.from({ length: 5 }, () => api(c, 'POST', `/bookings/${bookingId}/attempt`)));
      assert.ok(starts.every((r) => r.status === 200), JSON.stringify(starts.map((r) => r.body)));
      assert.equal(new Set(starts.map((r) => r.body.id)).size, 1, 'every concurrent start returns the same attempt');
      const rows = await t.ctx.db.kysely.selectFrom('attempts').select(['deadline_at', 'booking_id']).where('booking_id', '=', bookingId).execute();
      assert.equal(rows.length, 1);
      assert.ok(Math.abs(rows[0]!.deadline_at.getTime() - endsAt) < 5_000, `deadline ${rows[0]!.deadline_at.toISOString()} is the session's end`);
      assert.equal(starts[0]!.body.bookingId, bookingId);

      const c2 = await t.candidate('north');
      const cancelled = await book(c2, sessionId);
      const cancel = await api(c2, 'DELETE', `/bookings/${cancelled}`);
      assert.equal(cancel.status, 200, JSON.stringify(cancel.body));
      const refused = await api(c2, 'POST', `/bookings/${cancelled}/attempt`);
      assert.equal(refused.status, 409);
      assert.equal(refused.body.code, 'conflict');
      assert.equal((await t.ctx.db.kysely.selectFrom('attempts').select('id').where('booking_id', '=', cancelled).execute()).length, 0);
    });

    it('starts a crowd arriving together: each candidate their own attempt, someone else’s booking refused', async () => {
      const sessionId = await openSession(20);
      const crowd = await Promise.all(Array.from({ length: 6 }, () => t.candidate('north')));
      const bookings = await Promise.all(crowd.map((c) => book(c, sessionId)));
      const intruder = await t.candidate('north');
      // One turn: six starts, one of them twice, and a start of another's booking.
      const [refused, ...starts] = await Promise.all([
        api(intruder, 'POST', `/bookings/${bookings[1]}/attempt`),
        ...crowd.map((c, i) => api(c, 'POST', `/bookings/${bookings[i]}/attempt`)),
        api(crowd[0]!, 'POST', `/bookings/${bookings[0]}/attempt`),
      ]);
      assert.equal(refused!.status, 404);
      assert.ok(starts.every((r) => r.status === 200), JSON.stringify(starts.map((r) => r.body)));
      starts.slice(0, 6).forEach((r, i) => assert.equal(r.body.bookingId, bookings[i]));
      assert.equal(starts[6]!.body.id, starts[0]!.body.id, 'the repeated start returns the same attempt');
      const rows = await t.ctx.db.kysely.selectFrom('attempts').select(['booking_id', 'candidate_id']).where('session_id', '=', sessionId).execute();
      assert.equal(rows.length, 6);
      for (const [i, c] of crowd.entries()) assert.ok(rows.some((r) => r.booking_id === bookings[i] && r.candidate_id === c.id));
    });

    it('answers a start or a resume with the paper when asked to, as the paper route gives it', async () => {
      const sessionId = await openSession();
      const c = await t.candidate('north');
      const bookingId = await book(c, sessionId);
      const first = await api(c, 'POST', `/bookings/${bookingId}/attempt?include=paper`);
      assert.equal(first.status, 200, JSON.stringify(first.body));
      const { paper, ...view } = first.body as Record<string, unknown> & { paper?: Paper };
      assert.ok(attemptView.strict().safeParse(view).success, 'the rest is the attempt view');
      const attemptId = view.id as string;
      const fromRoute = await api(c, 'GET', `/attempts/${attemptId}/paper`);
      assert.deepEqual(paper, fromRoute.body, 'the same paper as GET /attempts/:id/paper');
      assert.equal(paper?.questions.length, 4);

      const repeat = await api(c, 'POST', `/bookings/${bookingId}/attempt?include=paper`);
      assert.equal(repeat.body.id, attemptId);
      assert.deepEqual(repeat.body.paper, fromRoute.body, 'a repeated start carries it too');
      const plain = await api(c, 'POST', `/bookings/${bookingId}/attempt`);
      assert.equal(plain.body.paper, undefined, 'not unless asked');
      const resumed = await api(c, 'GET', `/attempts/${attemptId}?include=paper`);
      assert.equal(resumed.body.id, attemptId);
      assert.deepEqual(resumed.body.paper, fromRoute.body, 'a resume carries it when asked');
      assert.equal((await api(c, 'GET', `/attempts/${attemptId}`)).body.paper, undefined);

      const bad = await api(c, 'POST', `/bookings/${bookingId}/attempt?include=questions`);
      assert.equal(bad.status, 400);
      assert.match(bad.headers['content-type'] as string, /problem\+json/);
    });

    it('runs a whole attempt: start, paper, autosave, resume, submit, grading, result', async () => {
      const sessionId = await openSession();
      const c = await t.candidate('north');
      const bookingId = await book(c, sessionId);

      const start = await api(c, 'POST', `/bookings/${bookingId}/attempt`);
      assert.equal(start.status, 200, JSON.stringify(start.body));
      const attemptId = start.body.id as string;
      assert.equal(start.body.status, 'in_progress');
      assert.ok((start.body.remainingS as number) > 590 && (start.body.remainingS as number) <= 600);
      const again = await api(c, 'POST', `/bookings/${bookingId}/attempt`);
      assert.equal(again.body.id, attemptId, 'starting twice returns the same attempt');
      // Views are sent pre-serialised, past the response schema: check them against it here.
      const isView = (body: unknown, what: string): void => {
        const parsed = attemptView.strict().safeParse(body);
        assert.ok(parsed.success, `${what}: ${parsed.error?.message}`);
        for (const a of parsed.data.answers) assert.equal(new Date(a.savedAt).toISOString(), a.savedAt, `${what}: savedAt is ISO 8601 UTC`);
      };
      isView(start.body, 'start');
      isView(again.body, 'start again');

      const paperRes = await t.app.inject({ method: 'GET', url: `/api/v1/attempts/${attemptId}/paper`, headers: c.headers });
      assert.equal(paperRes.statusCode, 200);
      const paper = paperRes.json() as Paper;
      assert.equal(paper.questions.length, 4);
      assert.deepEqual(new Set(paper.questions.map((q) => q.id)), new Set(Object.values(qids)));
      for (const leak of ['"correct"', '"accepted"', '"tolerance"', '"answer"', 'Paris']) {
        assert.ok(!paperRes.body.includes(leak), `paper must not contain ${leak}`);
      }
      assert.deepEqual([...(paper.optionOrder[qids.single_choice!] ?? [])].sort(), ['a', 'b', 'c']);
      // The same candidate always gets the same order.
      const paper2 = (await t.app.inject({ method: 'GET', url: `/api/v1/attempts/${attemptId}/paper`, headers: c.headers })).body;
      assert.equal(paper2, paperRes.body);

      // Newer seq wins; an older one arriving late is acknowledged but ignored.
      let r = await api(c, 'PUT', `/attempts/${attemptId}/answers`, { answers: [{ questionId: qids.single_choice, value: 'a', seq: 1 }] });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      r = await api(c, 'PUT', `/attempts/${attemptId}/answers`, {
        answers: [
          { questionId: qids.single_choice, value: 'b', seq: 3 },
          { questionId: qids.true_false, value: true, seq: 1 },
        ],
      });
      assert.deepEqual(r.body.acked, [
        { questionId: qids.single_choice, seq: 3 },
        { questionId: qids.true_false, seq: 1 },
      ]);
      r = await api(c, 'PUT', `/attempts/${attemptId}/answers`, { answers: [{ questionId: qids.single_choice, value: 'c', seq: 2 }] });
      assert.equal(r.status, 200);
      // Bad values and foreign questions are refused with a clear 400.
      r = await api(c, 'PUT', `/attempts/${attemptId}/answers`, { answers: [{ questionId: qids.numeric, value: { x: 1 }, seq: 1 }] });
      assert.equal(r.status, 400);
      assert.equal(r.body.code, 'validation_failed');
      r = await api(c, 'PUT', `/attempts/${attemptId}/answers`, { answers: [{ questionId: 'nope', value: 1, seq: 1 }] });
      assert.equal(r.status, 400);
      assert.match(String(r.body.detail), /not part of this attempt/);

      // Resume: saved answers and remaining time from the server clock.
      const resume = await api(c, 'GET', `/attempts/${attemptId}`);
      const saved = new Map((resume.body.answers as { questionId: string; value: unknown; seq: number }[]).map((a) => [a.questionId, a]));
      assert.equal(saved.get(qids.single_choice!)?.value, 'b');
      assert.equal(saved.get(qids.single_choice!)?.seq, 3);
      assert.equal(saved.get(qids.true_false!)?.value, true);
      isView(resume.body, 'resume');
      const resumed = attemptView.parse(resume.body);
      assert.deepEqual(
        resumed.answers.map((a) => a.questionId),
        [qids.single_choice, qids.true_false].sort(),
        'answers in question id order',
      );
      const savedAt = Date.parse(resumed.answers[0]!.savedAt);
      assert.ok(Math.abs(savedAt - Date.now()) < 60_000, 'savedAt is the time of the save');

      // Another candidate cannot see or write this attempt.
      const other = await t.candidate('north');
      assert.equal((await api(other, 'GET', `/attempts/${attemptId}`)).status, 404);
      assert.equal((await api(other, 'PUT', `/attempts/${attemptId}/answers`, { answers: [{ questionId: qids.true_false, value: false, seq: 9 }] })).status, 404);

      // Submit with final answers; idempotent; closed afterwards.
      const sub = await api(c, 'POST', `/attempts/${attemptId}/submit`, { answers: [{ questionId: qids.numeric, value: 42.3, seq: 1 }] });
      assert.equal(sub.status, 200, JSON.stringify(sub.body));
      assert.equal(sub.body.status === 'submitted' || sub.body.status === 'graded', true);
      const returned = new Map((sub.body.answers as { questionId: string; value: unknown }[]).map((a) => [a.questionId, a.value]));
      assert.equal(returned.get(qids.numeric!), 42.3, 'the submit returns the answers it closed with, its own included');
      assert.equal(returned.get(qids.single_choice!), 'b');
      isView(sub.body, 'submit');
      assert.equal(sub.headers['content-type'], 'application/json; charset=utf-8');
      assert.equal(sub.body.askResultInS, 3, 'gradings run at once: ask for the result in a few seconds');
      const sub2 = await api(c, 'POST', `/attempts/${attemptId}/submit`, {});
      assert.equal(sub2.status, 200);
      assert.equal(sub2.body.submittedAt, sub.body.submittedAt);
      assert.equal(sub2.body.askResultInS, undefined, 'a submit again is the resume view');
      r = await api(c, 'PUT', `/attempts/${attemptId}/answers`, { answers: [{ questionId: qids.short_text, value: 'paris', seq: 1 }] });
      assert.equal(r.status, 409);
      assert.equal(r.body.code, 'attempt_closed');

      const result = await waitFor(async () => {
        const res = await api(c, 'GET', `/attempts/${attemptId}/result`);
        return res.body.status === 'graded' ? res.body : undefined;
      });
      assert.equal(result.released, true);
      // single_choice b (2) + true_false (1) + numeric 42.3 within 0.5 (1) + short_text unanswered (0)
      assert.equal(result.score, 4);
      assert.equal(result.maxScore, 5);

      // Not graded yet: the answer says when marking should be done — a job process holds a
      // grading at most GRADING_MAX_HOLD_MS while the machine is busy.
      const ungraded = async (submittedAgoMs: number) => {
        await t.ctx.db.kysely
          .updateTable('attempts')
          .set({ status: 'submitted', submitted_at: new Date(Date.now() - submittedAgoMs) })
          .where('id', '=', attemptId)
          .execute();
        const res = await api(c, 'GET', `/attempts/${attemptId}/result`);
        assert.equal(res.status, 200);
        assert.equal(res.body.status, 'submitted');
        assert.equal(res.body.released, false);
        return res.body.askAgainInS as number;
      };
      const soon = await ungraded(10_000);
      assert.ok(soon >= 20 && soon <= 22, `asked to come back in ${soon} s`);
      assert.equal(await ungraded(5 * 60_000), 1, 'overdue: ask again shortly');
      assert.equal(await ungraded(0), 30, 'never more than 30 s');
    });

    it('auto-submits an attempt whose deadline passed, with its saved answers', async () => {
      const sessionId = await openSession();
      const c = await t.candidate('north');
      const bookingId = await book(c, sessionId);
      const attemptId = (await api(c, 'POST', `/bookings/${bookingId}/attempt`)).body.id as string;
      await api(c, 'PUT', `/attempts/${attemptId}/answers`, { answers: [{ questionId: qids.true_false, value: true, seq: 1 }] });
      // Move the deadline into the past (beyond the grace window) and run the deadline job now.
      await t.ctx.db.kysely
        .updateTable('attempts')
        .set({ deadline_at: new Date(Date.now() - 60_000) })
        .where('id', '=', attemptId)
        .execute();
      const late = await api(c, 'PUT', `/attempts/${attemptId}/answers`, { answers: [{ questionId: qids.numeric, value: 42, seq: 1 }] });
      assert.equal(late.status, 409, 'the database refuses answers past deadline + grace even when the cache is stale');
      assert.equal(await t.ctx.attempts.autoSubmit(attemptId), true);
      const row = await t.ctx.db.kysely.selectFrom('attempts').select(['status', 'submit_reason']).where('id', '=', attemptId).executeTakeFirstOrThrow();
      assert.equal(row.submit_reason, 'deadline');
      const graded = await waitFor(async () => {
        const res = await api(c, 'GET', `/attempts/${attemptId}/result`);
        return res.body.status === 'graded' ? res.body : undefined;
      });
      assert.equal(graded.score, 1);
    });

    it('queues one deadline job for a session window, which closes those attempts once their grace is over', async () => {
      // The session ends in 5 minutes, before the paper's time limit: every attempt's deadline is its end.
      const sessionId = await openSession(10, -60_000, 5 * 60_000);
      const before = await t.ctx.queue.counts('attempt-deadline');
      const started: string[] = [];
      for (let i = 0; i < 3; i++) {
        const c = await t.candidate('north');
        const r = await api(c, 'POST', `/bookings/${await book(c, sessionId)}/attempt`);
        assert.ok(r.status < 300, JSON.stringify(r.body));
        started.push(r.body.id as string);
      }
      const queued = await t.ctx.queue.counts('attempt-deadline');
      assert.equal(queued.delayed + queued.waiting - before.delayed - before.waiting, 1, 'three starts, one window, one job');

      const setDeadline = (ids: string[], at: Date) =>
        t.ctx.db.kysely.updateTable('attempts').set({ deadline_at: at }).where('id', 'in', ids).execute();
      // Two are past deadline + grace; the third only just reached its deadline.
      await setDeadline(started.slice(0, 2), new Date(Date.now() - 60_000));
      await setDeadline(started.slice(2), new Date());
      await assert.rejects(t.ctx.attempts.autoSubmitDue(sessionId, new Date().toISOString()), /not reached/);
      const rows = await t.ctx.db.kysely.selectFrom('attempts').select(['id', 'status', 'submit_reason']).where('session_id', '=', sessionId).execute();
      const byId = new Map(rows.map((r) => [r.id, r]));
      for (const id of started.slice(0, 2)) {
        assert.notEqual(byId.get(id)!.status, 'in_progress');
        assert.equal(byId.get(id)!.submit_reason, 'deadline');
      }
      assert.equal(byId.get(started[2]!)!.status, 'in_progress', 'still inside its grace window');
      // The queue's retry, once the grace is over: nothing left to close.
      await setDeadline(started.slice(2), new Date(Date.now() - 60_000));
      assert.equal(await t.ctx.attempts.autoSubmitDue(sessionId, new Date().toISOString()), 1);
      assert.equal(await t.ctx.attempts.autoSubmitDue(sessionId, new Date().toISOString()), 0);
    });

    it('sweeps attempts whose deadline job never ran', async () => {
      const sessionId = await openSession();
      const c = await t.candidate('north');
      const bookingId = await book(c, sessionId);
      const attemptId = (await api(c, 'POST', `/bookings/${bookingId}/attempt`)).body.id as string;
      await t.ctx.db.kysely.updateTable('attempts').set({ deadline_at: new Date(Date.now() - 60_000) }).where('id', '=', attemptId).execute();
      assert.ok((await t.ctx.attempts.sweepExpired()) >= 1);
      const row = await t.ctx.db.kysely.selectFrom('attempts').select(['status', 'submit_reason']).where('id', '=', attemptId).executeTakeFirstOrThrow();
      assert.notEqual(row.status, 'in_progress');
      assert.equal(row.submit_reason, 'deadline');
    });

    it('group-commits concurrent autosaves from many candidates and acknowledges each after commit', async () => {
      const attempts = await startAttempts(12);
      const results = await Promise.all(
        attempts.flatMap(({ c, id }) =>
          [1, 2, 3].map((seq) => api(c, 'PUT', `/attempts/${id}/answers`, { answers: [{ questionId: qids.numeric, value: seq, seq }] })),
        ),
      );
      assert.ok(results.every((r) => r.status === 200));
      for (const { id } of attempts) {
        const row = await t.ctx.db.kysely.selectFrom('responses').select(['value', 'seq']).where('attempt_id', '=', id).where('question_id', '=', qids.numeric!).executeTakeFirstOrThrow();
        assert.equal(row.seq, 3);
        assert.equal(row.value, 3);
      }
    });

    it('submits a wave of attempts together, each after the answers sent before it, and grades each', async () => {
      const attempts = await startAttempts(10);
      // Each candidate's autosave is sent just before its submit, which carries one more answer;
      // the first candidate submits twice at once.
      const wave = await Promise.all(
        attempts.flatMap(({ c, id }, i) => [
          api(c, 'PUT', `/attempts/${id}/answers`, { answers: [{ questionId: qids.true_false, value: true, seq: 1 }] }),
          api(c, 'POST', `/attempts/${id}/submit`, { answers: [{ questionId: qids.numeric, value: 42, seq: 1 }] }),
          ...(i === 0 ? [api(c, 'POST', `/attempts/${id}/submit`, {})] : []),
        ]),
      );
      assert.ok(
        wave.every((r) => r.status === 200),
        JSON.stringify(wave.filter((r) => r.status !== 200).map((r) => r.body)),
      );
      for (const { c, id } of attempts) {
        const graded = await waitFor(async () => {
          const res = await api(c, 'GET', `/attempts/${id}/result`);
          return res.body.status === 'graded' ? res.body : undefined;
        });
        assert.equal(graded.score, 2, 'true_false and numeric both counted');
      }
      const reasons = await t.ctx.db.kysely
        .selectFrom('attempts')
        .select('submit_reason')
        .where('id', 'in', attempts.map((a) => a.id))
        .execute();
      assert.deepEqual(new Set(reasons.map((r) => r.submit_reason)), new Set(['candidate']));
    });

    it('tells a submit made while gradings are held to ask for the result after the hold', async () => {
      const { c, id } = (await startAttempts(1))[0]!;
      gradingsHeld = true;
      try {
        const sub = await api(c, 'POST', `/attempts/${id}/submit`, {});
        assert.equal(sub.status, 200, JSON.stringify(sub.body));
        assert.equal(sub.body.askResultInS, GRADING_MAX_HOLD_MS / 1000 + 1, 'the longest hold, and a second for the grading');
      } finally {
        gradingsHeld = false;
      }
    });

    it('closes an attempt only after its answers in a batch still in flight are written', async () => {
      const attempts = await startAttempts(6);
      // No group-commit window: each call starts a batch while a slot is free, so a
      // submit goes out in the batch after the one holding its attempt's answer.
      const writer = new AutosaveWriter(t.ctx.db.kysely, { flushMs: 0, maxBatch: 500, graceS: 2 });
      const results = await Promise.all(
        attempts.map(({ id }) =>
          Promise.all([writer.save([{ attemptId: id, questionId: qids.true_false!, value: true, seq: 7 }]), writer.submit(id, 'candidate')]),
        ),
      );
      for (const [saved, closed] of results) {
        assert.equal(saved.refused.size, 0, 'the answer queued before the submit was accepted');
        assert.ok(closed, 'the submit closed the attempt');
        assert.deepEqual(
          (JSON.parse(closed.answers_json) as { questionId: string; seq: number }[]).map((a) => [a.questionId, a.seq]),
          [[qids.true_false, 7]],
          'the closed attempt holds the answer queued before it',
        );
      }
      await writer.close();
    });

    it('queues grading again for an attempt submitted long ago and never graded', async () => {
      const [{ c, id: attemptId }] = (await startAttempts(1)) as [{ c: Actor; id: string }];
      await api(c, 'PUT', `/attempts/${attemptId}/answers`, { answers: [{ questionId: qids.true_false, value: true, seq: 1 }] });
      // As if the process died between the submit's commit and its enqueue.
      await t.ctx.db.kysely
        .updateTable('attempts')
        .set({ status: 'submitted', submit_reason: 'candidate', submitted_at: new Date(Date.now() - 3_600_000) })
        .where('id', '=', attemptId)
        .execute();
      await t.ctx.attempts.sweepExpired();
      const graded = await waitFor(async () => {
        const res = await api(c, 'GET', `/attempts/${attemptId}/result`);
        return res.body.status === 'graded' ? res.body : undefined;
      });
      assert.equal(graded.score, 1);
    });

    it('grades a batch at once, skipping open, graded and unknown attempts; a one-attempt job of before still runs', async () => {
      const [a, b, open, legacy] = (await startAttempts(4)) as [{ c: Actor; id: string }, { c: Actor; id: string }, { c: Actor; id: string }, { c: Actor; id: string }];
      await api(a.c, 'PUT', `/attempts/${a.id}/answers`, { answers: [{ questionId: qids.true_false, value: true, seq: 1 }] });
      await api(b.c, 'PUT', `/attempts/${b.id}/answers`, {
        answers: [
          { questionId: qids.true_false, value: false, seq: 1 },
          { questionId: qids.numeric, value: 42, seq: 2 },
        ],
      });
      await api(legacy.c, 'PUT', `/attempts/${legacy.id}/answers`, { answers: [{ questionId: qids.short_text, value: ' paris ', seq: 1 }] });
      // Submitted without a grading job queued (as if the process died in between).
      await t.ctx.db.kysely
        .updateTable('attempts')
        .set({ status: 'submitted', submit_reason: 'candidate', submitted_at: new Date() })
        .where('id', 'in', [a.id, b.id, legacy.id])
        .execute();
      const unknown = '00000000-0000-4000-8000-000000000000';
      assert.equal(await t.ctx.attempts.grade([a.id, b.id.toUpperCase(), open.id, unknown, 'not-an-id', a.id]), 2);
      const scores = await t.ctx.db.kysely.selectFrom('attempts').select(['id', 'status', 'score']).where('id', 'in', [a.id, b.id, open.id]).execute();
      const byId = new Map(scores.map((r) => [r.id, r]));
      assert.equal(byId.get(a.id)?.status, 'graded');
      assert.equal(Number(byId.get(a.id)?.score), 1);
      assert.equal(Number(byId.get(b.id)?.score), 1, 'true_false wrong, numeric right');
      assert.equal(byId.get(open.id)?.status, 'in_progress');
      assert.equal(await t.ctx.attempts.grade([a.id, b.id]), 0, 'grading again changes nothing');

      await t.ctx.queue.enqueue(GRADING_QUEUE, 'grade', { attemptId: legacy.id }, { priority: 1 });
      const graded = await waitFor(async () => {
        const res = await api(legacy.c, 'GET', `/attempts/${legacy.id}/result`);
        return res.body.status === 'graded' ? res.body : undefined;
      });
      assert.equal(graded.score, 1);
    });

    it('answers problem+json for bad ids and missing tokens', async () => {
      const c = await t.candidate('north');
      let r = await api(c, 'GET', '/attempts/not-a-uuid');
      assert.equal(r.status, 404);
      assert.equal(r.body.code, 'not_found');
      r = await api(undefined, 'GET', '/attempts/00000000-0000-0000-0000-000000000000');
      assert.equal(r.status, 401);
      assert.equal(r.body.code, 'unauthenticated');
      r = await api(c, 'PUT', '/attempts/00000000-0000-0000-0000-000000000000/answers', { answers: [] });
      assert.equal(r.status, 400);
    });
  });
}
