/**
 * The whole exam flow over a real socket, from author to result: an author
 * builds and publishes an assessment and schedules a session, imports
 * candidates from CSV; a candidate signs in with their code, books, takes the
 * exam with autosave and a resume, submits, and reads the graded result.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { dbTargets } from '../testing/db.ts';
import { createTestApp, type TestApp } from '../testing/app.ts';

for (const target of dbTargets()) {
  describe(`exam flow over HTTP (${target.name})`, () => {
    let t: TestApp;
    let base: string;

    before(async () => {
      t = await createTestApp(target);
      t.ctx.startWorkers();
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}/api/v1`;
    });
    after(() => t.close());

    async function call<T = Record<string, unknown>>(
      method: string,
      path: string,
      token?: string,
      body?: unknown,
      contentType = 'application/json',
    ): Promise<{ status: number; body: T }> {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined ? { 'content-type': contentType } : {}),
        },
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
    }

    it('author → publish → schedule → import → candidate books, answers, resumes, submits → result', async () => {
      const author = await t.staff('author', 'flow-author@example.org');
      const login = await call<{ accessToken: string }>('POST', '/auth/login', undefined, {
        email: 'flow-author@example.org',
        password: 'correct horse battery staple',
      });
      assert.equal(login.status, 200);
      const at = login.body.accessToken;
      void author;

      const questions = [
        { type: 'single_choice', stem: 'Largest ocean?', options: [{ id: 'atl', text: 'Atlantic' }, { id: 'pac', text: 'Pacific' }], correct: 'pac', tags: ['geo'] },
        { type: 'multiple_response', stem: 'Even numbers?', options: [{ id: 'a', text: '2' }, { id: 'b', text: '3' }, { id: 'c', text: '4' }], correct: ['a', 'c'], tags: ['maths'] },
        { type: 'numeric', stem: 'pi to 2 places', answer: 3.14, tolerance: 0.005, tags: ['maths'] },
      ];
      const ids: string[] = [];
      for (const q of questions) {
        const r = await call<{ id: string }>('POST', '/questions', at, q);
        assert.ok(r.status < 300, JSON.stringify(r.body));
        ids.push(r.body.id);
      }
      const bulk = await call('POST', '/questions/bulk-approve', at, { ids });
      assert.equal(bulk.status, 200, JSON.stringify(bulk.body));

      const asm = await call<{ id: string }>('POST', '/assessments', at, {
        title: 'Flow exam',
        timeLimitS: 900,
        shuffleItems: true,
        releasePolicy: 'on_submit',
        items: ids.map((questionId) => ({ questionId })),
      });
      assert.ok(asm.status < 300, JSON.stringify(asm.body));
      const pub = await call<{ version: number }>('POST', `/assessments/${asm.body.id}/publish`, at);
      assert.ok(pub.status < 300, JSON.stringify(pub.body));
      assert.equal(pub.body.version, 1);

      const session = await call<{ id: string }>('POST', '/sessions', at, {
        assessmentId: asm.body.id,
        district: 'harbour',
        title: 'Morning',
        startsAt: new Date(Date.now() - 60_000).toISOString(),
        endsAt: new Date(Date.now() + 3_600_000).toISOString(),
        capacity: 30,
      });
      assert.ok(session.status < 300, JSON.stringify(session.body));

      const csv = 'name,email,district\nGrace Hopper,grace@example.org,harbour\nAlan Turing,alan@example.org,harbour\n';
      const imported = await call<{ rows: { status: string; accessCode?: string; line: number }[] }>('POST', '/candidates/import', at, csv, 'text/csv');
      assert.ok(imported.status < 300, JSON.stringify(imported.body));
      const code = imported.body.rows.find((r) => r.status === 'created')?.accessCode;
      assert.ok(code, JSON.stringify(imported.body));

      const signIn = await call<{ accessToken: string }>('POST', '/auth/access-code', undefined, { code });
      assert.equal(signIn.status, 200);
      const ct = signIn.body.accessToken;

      const visible = await call<{ items: { id: string; seatsLeft: number }[] }>('GET', '/sessions', ct);
      assert.equal(visible.status, 200);
      assert.ok(visible.body.items.some((s) => s.id === session.body.id), 'the candidate sees their district session');

      const booked = await call<{ booking: { id: string } }>('POST', `/sessions/${session.body.id}/bookings`, ct, {});
      assert.equal(booked.status, 201, JSON.stringify(booked.body));
      const started = await call<{ id: string; remainingS: number }>('POST', `/bookings/${booked.body.booking.id}/attempt`, ct);
      assert.equal(started.status, 200, JSON.stringify(started.body));
      const attemptId = started.body.id;

      const paper = await call<{ questions: { id: string; type: string }[] }>('GET', `/attempts/${attemptId}/paper`, ct);
      assert.equal(paper.body.questions.length, 3);
      const byType = new Map(paper.body.questions.map((q) => [q.type, q.id]));

      let r = await call('PUT', `/attempts/${attemptId}/answers`, ct, {
        answers: [
          { questionId: byType.get('single_choice'), value: 'pac', seq: 1 },
          { questionId: byType.get('multiple_response'), value: ['a'], seq: 1 },
        ],
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      // "Reload": resume sees saved answers and the server's remaining time.
      const resumed = await call<{ answers: { questionId: string; value: unknown }[]; remainingS: number }>('GET', `/attempts/${attemptId}`, ct);
      assert.equal(resumed.body.answers.length, 2);
      assert.ok(resumed.body.remainingS > 800);
      r = await call('PUT', `/attempts/${attemptId}/answers`, ct, {
        answers: [
          { questionId: byType.get('multiple_response'), value: ['a', 'c'], seq: 2 },
          { questionId: byType.get('numeric'), value: 3.141, seq: 1 },
        ],
      });
      assert.equal(r.status, 200);
      const submitted = await call<{ status: string }>('POST', `/attempts/${attemptId}/submit`, ct, {});
      assert.equal(submitted.status, 200);

      let result: { status: string; score?: number; maxScore?: number; released?: boolean } = { status: 'submitted' };
      for (let i = 0; i < 200 && result.status !== 'graded'; i++) {
        await new Promise((res) => setTimeout(res, 50));
        result = (await call<typeof result>('GET', `/attempts/${attemptId}/result`, ct)).body;
      }
      assert.equal(result.status, 'graded');
      assert.equal(result.released, true);
      assert.equal(result.score, 3);
      assert.equal(result.maxScore, 3);

      // The author sees the graded attempt in their session.
      const list = await call<{ id: string; score: number }[]>('GET', `/attempts?sessionId=${session.body.id}`, at);
      assert.equal(list.body.find((a) => a.id === attemptId)?.score, 3);
    });
  });
}
