/**
 * Assessment results on a small known data set: real candidates book, answer,
 * submit and are graded by the worker, across two districts and two published
 * versions; every statistic is checked against numbers worked out by hand.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dbTargets } from '../../testing/db.ts';
import { createTestApp, type Actor, type TestApp } from '../../testing/app.ts';
import { csvCell, csvRow } from './csv.ts';
import type { AssessmentResults } from './schema.ts';

type Answers = Partial<Record<'q1' | 'q2' | 'q3', unknown>>;

async function waitFor<T>(fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Just enough RFC 4180 to read the export back. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += ch;
  }
  assert.equal(cell, '', 'the export ends with CRLF');
  return rows;
}

describe('CSV cells', () => {
  it('quotes separators and neutralises formulas', () => {
    assert.equal(csvCell('plain'), 'plain');
    assert.equal(csvCell('Hopper, Grace'), '"Hopper, Grace"');
    assert.equal(csvCell('say "hi"'), '"say ""hi"""');
    assert.equal(csvCell('two\nlines'), '"two\nlines"');
    assert.equal(csvCell('=1+1'), "'=1+1");
    assert.equal(csvCell('+49 30'), "'+49 30");
    assert.equal(csvCell('-x'), "'-x");
    assert.equal(csvCell('@SUM(A1)'), "'@SUM(A1)");
    assert.equal(csvCell('\tcmd'), "'\tcmd");
    assert.equal(csvCell('=HYPERLINK("http://x","y")'), '"\'=HYPERLINK(""http://x"",""y"")"');
    assert.equal(csvCell(-1.5), '-1.5');
    assert.equal(csvCell(null), '');
    assert.equal(csvCell(undefined), '');
    assert.equal(csvRow(['a', 1, null]), 'a,1,\r\n');
  });
});

for (const target of dbTargets()) {
  describe(`assessment results (${target.name})`, () => {
    let t: TestApp;
    let author: Actor;
    let otherAuthor: Actor;
    let admin: Actor;
    let assessmentId: string;
    const q: Record<'q1' | 'q2' | 'q3', string> = { q1: '', q2: '', q3: '' };
    const names = new Map<string, string>();

    async function api(actor: Actor | undefined, method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown) {
      const res = await t.app.inject({
        method,
        url: `/api/v1${url}`,
        ...(actor ? { headers: actor.headers } : {}),
        ...(payload !== undefined ? { payload: payload as object } : {}),
      });
      const json = String(res.headers['content-type'] ?? '').includes('json');
      return { status: res.statusCode, body: json ? (res.json() as Record<string, unknown>) : {}, res };
    }

    async function session(district: string, forAssessment = assessmentId): Promise<string> {
      const r = await api(author, 'POST', '/sessions', {
        assessmentId: forAssessment,
        district,
        title: district,
        startsAt: new Date(Date.now() - 60_000).toISOString(),
        endsAt: new Date(Date.now() + 3_600_000).toISOString(),
        capacity: 20,
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.id as string;
    }

    /** A candidate books, starts, answers and (unless told not to) submits; returns the attempt id. */
    async function sit(sessionId: string, district: string, name: string, answers: Answers, submit = true): Promise<string> {
      const c = await t.candidate(district, name);
      names.set(c.id, name);
      const booked = await api(c, 'POST', `/sessions/${sessionId}/bookings`, {});
      assert.equal(booked.status, 201, JSON.stringify(booked.body));
      const started = await api(c, 'POST', `/bookings/${(booked.body.booking as { id: string }).id}/attempt`);
      assert.equal(started.status, 200, JSON.stringify(started.body));
      const attemptId = started.body.id as string;
      const list = Object.entries(answers).map(([key, value]) => ({ questionId: q[key as keyof typeof q], value, seq: 1 }));
      if (list.length) assert.equal((await api(c, 'PUT', `/attempts/${attemptId}/answers`, { answers: list })).status, 200);
      if (submit) {
        assert.equal((await api(c, 'POST', `/attempts/${attemptId}/submit`, {})).status, 200);
        await waitFor(async () => ((await api(c, 'GET', `/attempts/${attemptId}/result`)).body.status === 'graded' ? true : undefined));
      }
      return attemptId;
    }

    before(async () => {
      t = await createTestApp(target);
      t.ctx.startWorkers();
      author = await t.staff('author');
      otherAuthor = await t.staff('author');
      admin = await t.staff('admin');
      const inputs = {
        q1: { type: 'single_choice', stem: 'Pick b', options: [{ id: 'a', text: 'A' }, { id: 'b', text: 'B' }], correct: 'b', points: 2 },
        q2: { type: 'true_false', stem: 'True?', correct: true },
        q3: { type: 'numeric', stem: '6 x 7', answer: 42, tolerance: 0.5 },
      };
      for (const [key, input] of Object.entries(inputs)) {
        const r = await api(author, 'POST', '/questions', input);
        assert.equal(r.status, 201, JSON.stringify(r.body));
        q[key as keyof typeof q] = r.body.id as string;
        assert.equal((await api(author, 'POST', `/questions/${r.body.id as string}/approve`)).status, 200);
      }
      const a = await api(author, 'POST', '/assessments', {
        title: 'District maths, spring',
        timeLimitS: 600,
        shuffleItems: true,
        items: [q.q1, q.q2, q.q3].map((questionId) => ({ questionId })),
      });
      assertOk(a);
      assessmentId = a.body.id as string;
      assertOk(await api(author, 'POST', `/assessments/${assessmentId}/publish`));

      // North sits version 1: totals 4, 3, 1.
      const north = await session('north');
      await sit(north, 'north', 'Ada North', { q1: 'b', q2: true, q3: 42 });
      await sit(north, 'north', 'Hopper, Grace', { q1: 'b', q2: false, q3: 42 });
      await sit(north, 'north', '=HYPERLINK("http://evil","x")', { q1: 'a', q2: true });
      // South sits version 2 (published in between): totals 2, 2, 0, and one still writing.
      assertOk(await api(author, 'POST', `/assessments/${assessmentId}/publish`));
      const south = await session('south');
      await sit(south, 'south', 'Sam South', { q1: 'b', q2: false, q3: 10 });
      await sit(south, 'south', 'Sue South', { q1: 'a', q2: true, q3: 42 });
      await sit(south, 'south', 'Blank South', {});
      await sit(south, 'south', 'Still Writing', { q1: 'b' }, false);
    });
    after(() => t.close());

    it('reports districts and item analysis exactly', async () => {
      const r = await api(author, 'GET', `/assessments/${assessmentId}/results`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const body = r.body as unknown as AssessmentResults;
      const bins = (counts: Record<number, number>) =>
        Array.from({ length: 10 }, (_, k) => ({ from: k * 10, to: k * 10 + 10, count: counts[k] ?? 0 }));
      assert.deepEqual(
        { ...body, questions: undefined },
        {
          assessmentId,
          title: 'District maths, spring',
          maxScore: 4,
          attempts: 7,
          submitted: 6,
          graded: 6,
          questions: undefined,
          districts: [
            // 4 (100 %), 3 (75 %), 1 (25 %)
            { district: 'north', candidates: 3, attempts: 3, submitted: 3, graded: 3, mean: 2.67, median: 3, min: 1, max: 4, histogram: bins({ 2: 1, 7: 1, 9: 1 }) },
            // 2 (50 %), 2 (50 %), 0; one attempt in progress
            { district: 'south', candidates: 4, attempts: 4, submitted: 3, graded: 3, mean: 1.33, median: 2, min: 0, max: 2, histogram: bins({ 0: 1, 5: 2 }) },
          ],
        },
      );
      // Ranked 4, 3 | 2, 2 | 1, 0: with 6 graded the groups are the top 2 and the bottom 2.
      const byId = new Map(body.questions.map((x) => [x.questionId, x]));
      assert.equal(body.questions.length, 3);
      assert.deepEqual(byId.get(q.q1), { questionId: q.q1, stem: 'Pick b', type: 'single_choice', points: 2, given: 6, responses: 5, facility: 0.5, discrimination: 1 });
      // Upper: right, wrong; lower: right, blank.
      assert.deepEqual(byId.get(q.q2), { questionId: q.q2, stem: 'True?', type: 'true_false', points: 1, given: 6, responses: 5, facility: 0.5, discrimination: 0 });
      assert.deepEqual(byId.get(q.q3), { questionId: q.q3, stem: '6 x 7', type: 'numeric', points: 1, given: 6, responses: 4, facility: 0.5, discrimination: 1 });
    });

    it('exports every attempt as CSV with points per question', async () => {
      const res = await t.app.inject({ method: 'GET', url: `/api/v1/assessments/${assessmentId}/results.csv`, headers: author.headers });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers['content-type'], 'text/csv; charset=utf-8');
      assert.equal(res.headers['content-disposition'], 'attachment; filename="district-maths-spring-results.csv"');
      const [header, ...rows] = parseCsv(res.body);
      assert.deepEqual(header!.slice(0, 8), ['candidate_id', 'candidate_name', 'district', 'version', 'status', 'score', 'max_score', 'submitted_at']);
      assert.equal(header!.length, 11);
      assert.equal(rows.length, 7);
      // The question columns follow the paper order: q1, q2, q3.
      assert.deepEqual(header!.slice(8), ['Q1 Pick b', 'Q2 True?', 'Q3 6 x 7']);
      const byName = new Map(rows.map((r) => [r[1], r]));
      const grace = byName.get('Hopper, Grace')!;
      assert.equal(names.get(grace[0]!), 'Hopper, Grace');
      assert.deepEqual(grace.slice(2, 7), ['north', '1', 'graded', '3', '4']);
      assert.match(grace[7]!, /^\d{4}-\d\d-\d\dT.*Z$/);
      assert.deepEqual(grace.slice(8), ['2', '0', '1']);
      assert.deepEqual(byName.get('Sue South')!.slice(2, 7), ['south', '2', 'graded', '2', '4']);
      assert.deepEqual(byName.get('Sue South')!.slice(8), ['0', '1', '1']);
      assert.deepEqual(byName.get('Blank South')!.slice(8), ['0', '0', '0']);
      const writing = byName.get('Still Writing')!;
      assert.deepEqual(writing.slice(2, 11), ['south', '2', 'in_progress', '', '4', '', '', '', '']);
      // A name that looks like a formula stays text.
      assert.ok(byName.has('\'=HYPERLINK("http://evil","x")'), [...byName.keys()].join(' | '));
    });

    it('streams large exports page by page', async () => {
      // Past one keyset page (500) in one session: ids continue where the page ended, none twice.
      const fresh = await t.ctx.db.kysely
        .insertInto('assessments')
        .values({ owner_id: author.id, title: 'Big', time_limit_s: 60, items: '[]' })
        .returning('id')
        .executeTakeFirstOrThrow();
      const version = await t.ctx.db.kysely
        .insertInto('assessment_versions')
        .values({ assessment_id: fresh.id, version: 1, content: JSON.stringify({ sections: [], questions: {} }), max_score: 1 })
        .returning('id')
        .executeTakeFirstOrThrow();
      const s = await t.ctx.db.kysely
        .insertInto('exam_sessions')
        .values({ assessment_id: fresh.id, assessment_version_id: version.id, owner_id: author.id, district: 'east', starts_at: new Date(Date.now() - 1000), ends_at: new Date(Date.now() + 3_600_000), capacity: 2000, booked: 0 })
        .returning('id')
        .executeTakeFirstOrThrow();
      const users = await t.ctx.db.kysely
        .insertInto('users')
        .values(Array.from({ length: 1203 }, (_, i) => ({ role: 'candidate' as const, name: `Bulk ${i}`, district: 'east' })))
        .returning('id')
        .execute();
      const bookings = await t.ctx.db.kysely
        .insertInto('bookings')
        .values(users.map((u) => ({ session_id: s.id, assessment_id: fresh.id, candidate_id: u.id })))
        .returning(['id', 'candidate_id'])
        .execute();
      await t.ctx.db.kysely
        .insertInto('attempts')
        .values(bookings.map((b) => ({ booking_id: b.id, candidate_id: b.candidate_id, session_id: s.id, assessment_version_id: version.id, seed: 1, deadline_at: new Date(Date.now() + 3_600_000) })))
        .execute();
      const res = await t.app.inject({ method: 'GET', url: `/api/v1/assessments/${fresh.id}/results.csv`, headers: admin.headers });
      assert.equal(res.statusCode, 200);
      const [, ...rows] = parseCsv(res.body);
      assert.equal(rows.length, 1203);
      assert.equal(new Set(rows.map((r) => r[0])).size, 1203);
      const results = (await api(admin, 'GET', `/assessments/${fresh.id}/results`)).body as unknown as AssessmentResults;
      assert.equal(results.attempts, 1203);
      assert.equal(results.graded, 0);
      assert.deepEqual(results.questions, []);
      assert.equal(results.districts[0]?.mean, null);
    });

    it('leaves discrimination out below 4 graded attempts, and reports an unused assessment as empty', async () => {
      const a = await api(author, 'POST', '/assessments', { title: 'Small', timeLimitS: 600, items: [{ questionId: q.q2 }] });
      assertOk(a);
      const id = a.body.id as string;
      let r = await api(author, 'GET', `/assessments/${id}/results`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, { assessmentId: id, title: 'Small', maxScore: 0, attempts: 0, submitted: 0, graded: 0, districts: [], questions: [] });
      assertOk(await api(author, 'POST', `/assessments/${id}/publish`));
      await sit(await session('north', id), 'north', 'Solo', { q2: true });
      r = await api(admin, 'GET', `/assessments/${id}/results`);
      const body = r.body as unknown as AssessmentResults;
      assert.deepEqual(body.questions, [{ questionId: q.q2, stem: 'True?', type: 'true_false', points: 1, given: 1, responses: 1, facility: 1, discrimination: null }]);
      assert.deepEqual(body.districts.map((d) => [d.district, d.mean, d.median, d.histogram[9]?.count]), [['north', 1, 1, 1]]);
    });

    it('is for the owning author and admins only; bad ids are 4xx problems', async () => {
      for (const path of ['results', 'results.csv']) {
        assert.equal((await api(admin, 'GET', `/assessments/${assessmentId}/${path}`)).status, 200);
        const other = await api(otherAuthor, 'GET', `/assessments/${assessmentId}/${path}`);
        assert.equal(other.status, 404);
        assert.equal(other.body.code, 'not_found');
        const candidate = await t.candidate('north');
        assert.equal((await api(candidate, 'GET', `/assessments/${assessmentId}/${path}`)).status, 403);
        assert.equal((await api(undefined, 'GET', `/assessments/${assessmentId}/${path}`)).status, 401);
        const bad = await api(author, 'GET', `/assessments/not-a-uuid/${path}`);
        assert.equal(bad.status, 400);
        assert.equal(bad.res.headers['content-type'], 'application/problem+json; charset=utf-8');
        assert.equal(bad.body.code, 'validation_failed');
        const missing = await api(author, 'GET', `/assessments/00000000-0000-4000-8000-000000000000/${path}`);
        assert.equal(missing.status, 404);
        assert.equal(missing.res.headers['content-type'], 'application/problem+json; charset=utf-8');
      }
    });
  });
}

function assertOk(r: { status: number; body: unknown }): void {
  assert.ok(r.status >= 200 && r.status < 300, `${r.status} ${JSON.stringify(r.body)}`);
}
