/**
 * The admin operations view on a real app (SQL queue on PGlite; BullMQ and the
 * Redis budget on the PostgreSQL target): dead letters made by a job that
 * really fails, revived through the endpoint, and the live counters.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dbTargets } from '../../testing/db.ts';
import { createTestApp, type Actor, type TestApp } from '../../testing/app.ts';
import { DEADLINE_QUEUE, GRADING_QUEUE } from '../attempts/service.ts';
import { quantileFromBuckets } from './latency.ts';
import type { OperationsView } from './schema.ts';

async function waitFor<T>(fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('p99 from histogram buckets', () => {
  it('interpolates within the bucket holding the rank, like histogram_quantile', () => {
    assert.equal(quantileFromBuckets([], 0.99), 0);
    assert.equal(quantileFromBuckets([{ le: 0.1, count: 0 }, { le: Infinity, count: 0 }], 0.99), 0);
    const p = quantileFromBuckets(
      [
        { le: 0.2, count: 100 },
        { le: 0.1, count: 50 },
        { le: Infinity, count: 100 },
      ],
      0.99,
    );
    assert.ok(Math.abs(p - 0.198) < 1e-12, String(p));
    // All in the first bucket: from 0 up to its bound.
    assert.ok(Math.abs(quantileFromBuckets([{ le: 0.01, count: 10 }, { le: Infinity, count: 10 }], 0.5) - 0.005) < 1e-12);
    // The rank in +Inf: the highest finite bound is all that is known.
    assert.equal(quantileFromBuckets([{ le: 0.1, count: 0 }, { le: 1, count: 90 }, { le: Infinity, count: 100 }], 0.99), 1);
  });
});

for (const target of dbTargets()) {
  describe(`admin operations (${target.name})`, () => {
    let t: TestApp;
    let admin: Actor;
    let author: Actor;
    let attemptId: string;

    async function api(actor: Actor | undefined, method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown) {
      const res = await t.app.inject({
        method,
        url: `/api/v1${url}`,
        ...(actor ? { headers: actor.headers } : {}),
        ...(payload !== undefined ? { payload: payload as object } : {}),
      });
      return { status: res.statusCode, body: res.json() as Record<string, unknown>, type: res.headers['content-type'] };
    }

    const overview = async (): Promise<OperationsView> => {
      const r = await api(admin, 'GET', '/admin/operations');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body as unknown as OperationsView;
    };

    before(async () => {
      t = await createTestApp(target, { AI_BUDGET_RPM: '7', AI_BUDGET_TPM: '5000', AI_BUDGET_TPD: '90000' });
      t.ctx.startWorkers();
      admin = await t.staff('admin');
      author = await t.staff('author');
      const question = await api(author, 'POST', '/questions', { type: 'true_false', stem: 'True?', correct: true });
      await api(author, 'POST', `/questions/${question.body.id as string}/approve`);
      const a = await api(author, 'POST', '/assessments', { title: 'Ops', timeLimitS: 600, items: [{ questionId: question.body.id }] });
      await api(author, 'POST', `/assessments/${a.body.id as string}/publish`);
      const s = await api(author, 'POST', '/sessions', {
        assessmentId: a.body.id,
        district: 'north',
        startsAt: new Date(Date.now() - 60_000).toISOString(),
        endsAt: new Date(Date.now() + 3_600_000).toISOString(),
        capacity: 5,
      });
      const c = await t.candidate('north');
      const booked = await api(c, 'POST', `/sessions/${s.body.id as string}/bookings`, {});
      const started = await api(c, 'POST', `/bookings/${(booked.body.booking as { id: string }).id}/attempt`);
      assert.equal(started.status, 200, JSON.stringify(started.body));
      attemptId = started.body.id as string;
      await api(c, 'PUT', `/attempts/${attemptId}/answers`, { answers: [{ questionId: question.body.id, value: true, seq: 1 }] });
    });
    after(() => t.close());

    it('shows queues, AI budget and breaker, attempts and HTTP latency', async () => {
      const granted = await t.ctx.budget.reserve(2, 300);
      assert.ok(granted.ok);
      await t.ctx.budget.commit(granted.id, -100);
      const v = await overview();
      assert.deepEqual(
        v.queues.map((q) => q.queue),
        ['grading', 'attempt-deadline', 'pipeline'],
      );
      // The attempt's auto-submit job waits for its deadline.
      assert.equal(v.queues.find((q) => q.queue === DEADLINE_QUEUE)?.delayed, 1);
      assert.deepEqual(v.ai, {
        requestsLastMinute: 2,
        tokensLastMinute: 200,
        tokensToday: 200,
        limits: { requestsPerMinute: 7, tokensPerMinute: 5000, tokensPerDay: 90000 },
        breaker: 'closed',
      });
      assert.deepEqual(v.attempts, { active: 1, submittedLastHour: 0 });
      assert.ok(v.http.requests >= 10, JSON.stringify(v.http));
      assert.ok(v.http.p99Ms > 0 && v.http.p99Ms <= 10_000, JSON.stringify(v.http));
      assert.deepEqual(v.deadLetters, []);
    });

    it('lists dead letters newest first and revives one through the endpoint', async () => {
      // A deadline job that runs before the deadline fails ("deadline not reached yet"): with one try it is dead-lettered.
      const early = await t.ctx.queue.enqueue(DEADLINE_QUEUE, 'auto-submit', { attemptId }, { maxAttempts: 1 });
      await waitFor(async () => ((await t.ctx.queue.getJob(DEADLINE_QUEUE, early.id))?.state === 'dead' ? true : undefined));
      await new Promise((r) => setTimeout(r, 20));
      const broken = await t.ctx.queue.enqueue(GRADING_QUEUE, 'grade', { nothing: true }, { maxAttempts: 1 });
      await waitFor(async () => ((await t.ctx.queue.getJob(GRADING_QUEUE, broken.id))?.state === 'dead' ? true : undefined));

      let v = await overview();
      assert.deepEqual(
        v.deadLetters.map((d) => ({ queue: d.queue, id: d.id, name: d.name, attempts: d.attempts, error: d.error })),
        [
          { queue: GRADING_QUEUE, id: broken.id, name: 'grade', attempts: 1, error: 'job data has no attemptIds' },
          { queue: DEADLINE_QUEUE, id: early.id, name: 'auto-submit', attempts: 1, error: 'deadline not reached yet' },
        ],
      );
      assert.equal(v.queues.find((q) => q.queue === DEADLINE_QUEUE)?.dead, 1);
      assert.equal(v.queues.find((q) => q.queue === GRADING_QUEUE)?.dead, 1);
      for (const d of v.deadLetters) assert.ok(d.failedAt && Date.parse(d.failedAt) >= Date.parse(d.createdAt), `failedAt ${d.failedAt}`);

      // Once the deadline has passed, the revived job submits the attempt and grading follows.
      await t.ctx.db.kysely.updateTable('attempts').set({ deadline_at: new Date(Date.now() - 3_600_000) }).where('id', '=', attemptId).execute();
      const r = await api(admin, 'POST', `/admin/dead-letters/${DEADLINE_QUEUE}/${early.id}/retry`);
      assert.equal(r.status, 202, JSON.stringify(r.body));
      assert.deepEqual(r.body, { retried: true });
      await waitFor(async () => ((await t.ctx.queue.getJob(DEADLINE_QUEUE, early.id))?.state === 'completed' ? true : undefined));
      const row = await waitFor(async () => {
        const a = await t.ctx.db.kysely.selectFrom('attempts').select(['status', 'submit_reason']).where('id', '=', attemptId).executeTakeFirstOrThrow();
        return a.status === 'graded' ? a : undefined;
      });
      assert.equal(row.submit_reason, 'deadline');

      v = await overview();
      assert.deepEqual(v.deadLetters.map((d) => d.id), [broken.id]);
      assert.deepEqual(v.attempts, { active: 0, submittedLastHour: 1 });

      // Not dead any more: nothing to revive.
      const again = await api(admin, 'POST', `/admin/dead-letters/${DEADLINE_QUEUE}/${early.id}/retry`);
      assert.equal(again.status, 404);
      assert.equal(again.body.code, 'not_found');
      assert.equal(again.type, 'application/problem+json; charset=utf-8');
    });

    it('refuses unknown queues and jobs with 4xx problems, and non-admins', async () => {
      let r = await api(admin, 'POST', '/admin/dead-letters/no-such-queue/1/retry');
      assert.equal(r.status, 400);
      assert.equal(r.body.code, 'validation_failed');
      assert.equal(r.type, 'application/problem+json; charset=utf-8');
      assert.match(String(r.body.detail), /queue/);
      r = await api(admin, 'POST', `/admin/dead-letters/${GRADING_QUEUE}/999999999/retry`);
      assert.equal(r.status, 404);
      r = await api(admin, 'POST', `/admin/dead-letters/${GRADING_QUEUE}/not-a-job-id/retry`);
      assert.equal(r.status, 404);
      assert.equal((await api(author, 'GET', '/admin/operations')).status, 403);
      assert.equal((await api(author, 'POST', `/admin/dead-letters/${GRADING_QUEUE}/1/retry`)).status, 403);
      assert.equal((await api(undefined, 'GET', '/admin/operations')).status, 401);
    });
  });
}
