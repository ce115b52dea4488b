/**
 * The whole authorization matrix: every API route × every kind of caller.
 * Each check runs on a fresh set of resources owned by "author A" and
 * "candidate A", so destructive routes cannot disturb later checks. A route
 * added without a row here fails the suite: authorization is decided, not
 * inherited by accident.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dbTargets } from '../testing/db.ts';
import { createTestApp, type Actor, type TestApp } from '../testing/app.ts';
import { questionBody, type QuestionInput } from '../modules/questions/model.ts';
import { publishAssessment } from '../modules/assessments/publish.ts';

type Who = 'anon' | 'admin' | 'ownerAuthor' | 'otherAuthor' | 'ownerCandidate' | 'otherCandidate';
const EVERYONE: Who[] = ['admin', 'ownerAuthor', 'otherAuthor', 'ownerCandidate', 'otherCandidate'];
const STAFF: Who[] = ['admin', 'ownerAuthor', 'otherAuthor'];
const OWNER_STAFF: Who[] = ['admin', 'ownerAuthor'];
const OWNERS: Who[] = ['admin', 'ownerAuthor', 'ownerCandidate'];

interface World {
  questionId: string;
  assessmentId: string;
  sessionId: string;
  bookingId: string;
  attemptId: string;
  candidateId: string;
  materialId: string;
}

interface Rule {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  allowed: Who[];
  url: (w: World) => string;
  body?: (w: World) => unknown;
  /** Event streams never end on their own: take the response as soon as its head is sent. */
  stream?: boolean;
}

const Q: QuestionInput = {
  type: 'single_choice',
  stem: 'Which?',
  points: 1,
  tags: ['authz'],
  options: [
    { id: 'a', text: 'A' },
    { id: 'b', text: 'B' },
  ],
  correct: 'a',
};

const rules: Rule[] = [
  { method: 'GET', path: '/api/v1/me', allowed: EVERYONE, url: () => '/api/v1/me' },
  { method: 'GET', path: '/api/v1/users', allowed: ['admin'], url: () => '/api/v1/users' },
  {
    method: 'POST',
    path: '/api/v1/users',
    allowed: ['admin'],
    url: () => '/api/v1/users',
    body: () => ({ role: 'author', email: `new${Math.random()}@x.org`, name: 'New', password: 'long enough password' }),
  },
  { method: 'GET', path: '/api/v1/users/{id}', allowed: ['admin'], url: (w) => `/api/v1/users/${w.candidateId}` },
  { method: 'PATCH', path: '/api/v1/users/{id}', allowed: ['admin'], url: (w) => `/api/v1/users/${w.candidateId}`, body: () => ({ name: 'Renamed' }) },
  { method: 'DELETE', path: '/api/v1/users/{id}', allowed: ['admin'], url: (w) => `/api/v1/users/${w.candidateId}` },
  { method: 'POST', path: '/api/v1/users/{id}/access-code', allowed: STAFF, url: (w) => `/api/v1/users/${w.candidateId}/access-code` },
  { method: 'POST', path: '/api/v1/candidates/import', allowed: STAFF, url: () => '/api/v1/candidates/import', body: () => ({ csv: 'name,email,district\nX Y,,north\n' }) },
  { method: 'POST', path: '/api/v1/questions', allowed: STAFF, url: () => '/api/v1/questions', body: () => Q },
  { method: 'GET', path: '/api/v1/questions', allowed: STAFF, url: () => '/api/v1/questions' },
  { method: 'POST', path: '/api/v1/questions/bulk-approve', allowed: STAFF, url: () => '/api/v1/questions/bulk-approve', body: (w) => ({ ids: [w.questionId] }) },
  { method: 'GET', path: '/api/v1/questions/{id}', allowed: OWNER_STAFF, url: (w) => `/api/v1/questions/${w.questionId}` },
  { method: 'PATCH', path: '/api/v1/questions/{id}', allowed: OWNER_STAFF, url: (w) => `/api/v1/questions/${w.questionId}`, body: () => ({ stem: 'Edited?' }) },
  { method: 'DELETE', path: '/api/v1/questions/{id}', allowed: OWNER_STAFF, url: (w) => `/api/v1/questions/${w.questionId}` },
  { method: 'POST', path: '/api/v1/questions/{id}/approve', allowed: OWNER_STAFF, url: (w) => `/api/v1/questions/${w.questionId}/approve` },
  { method: 'POST', path: '/api/v1/questions/{id}/reject', allowed: OWNER_STAFF, url: (w) => `/api/v1/questions/${w.questionId}/reject` },
  {
    method: 'POST',
    path: '/api/v1/assessments',
    allowed: STAFF,
    url: () => '/api/v1/assessments',
    body: () => ({ title: 'T', timeLimitS: 600, items: [] }),
  },
  { method: 'GET', path: '/api/v1/assessments', allowed: STAFF, url: () => '/api/v1/assessments' },
  { method: 'GET', path: '/api/v1/assessments/{id}', allowed: OWNER_STAFF, url: (w) => `/api/v1/assessments/${w.assessmentId}` },
  { method: 'PATCH', path: '/api/v1/assessments/{id}', allowed: OWNER_STAFF, url: (w) => `/api/v1/assessments/${w.assessmentId}`, body: () => ({ title: 'Renamed' }) },
  { method: 'DELETE', path: '/api/v1/assessments/{id}', allowed: OWNER_STAFF, url: (w) => `/api/v1/assessments/${w.assessmentId}` },
  { method: 'POST', path: '/api/v1/assessments/{id}/publish', allowed: OWNER_STAFF, url: (w) => `/api/v1/assessments/${w.assessmentId}/publish` },
  { method: 'GET', path: '/api/v1/assessments/{id}/versions/{version}', allowed: OWNER_STAFF, url: (w) => `/api/v1/assessments/${w.assessmentId}/versions/1` },
  { method: 'GET', path: '/api/v1/assessments/{id}/versions/{version}/qti', allowed: OWNER_STAFF, url: (w) => `/api/v1/assessments/${w.assessmentId}/versions/1/qti` },
  { method: 'POST', path: '/api/v1/assessments/{id}/release-results', allowed: OWNER_STAFF, url: (w) => `/api/v1/assessments/${w.assessmentId}/release-results` },
  {
    method: 'POST',
    path: '/api/v1/sessions',
    allowed: OWNER_STAFF,
    url: () => '/api/v1/sessions',
    body: (w) => ({
      assessmentId: w.assessmentId,
      district: 'north',
      startsAt: new Date(Date.now() - 60_000).toISOString(),
      endsAt: new Date(Date.now() + 3_600_000).toISOString(),
      capacity: 5,
    }),
  },
  { method: 'GET', path: '/api/v1/sessions', allowed: EVERYONE, url: () => '/api/v1/sessions' },
  { method: 'POST', path: '/api/v1/sessions/bulk-book', allowed: OWNER_STAFF, url: () => '/api/v1/sessions/bulk-book', body: (w) => ({ assessmentId: w.assessmentId, district: 'north' }) },
  { method: 'GET', path: '/api/v1/sessions/{id}', allowed: EVERYONE.filter((x) => x !== 'otherAuthor'), url: (w) => `/api/v1/sessions/${w.sessionId}` },
  { method: 'PATCH', path: '/api/v1/sessions/{id}', allowed: OWNER_STAFF, url: (w) => `/api/v1/sessions/${w.sessionId}`, body: () => ({ title: 'Renamed' }) },
  { method: 'DELETE', path: '/api/v1/sessions/{id}', allowed: OWNER_STAFF, url: (w) => `/api/v1/sessions/${w.sessionId}` },
  {
    method: 'POST',
    path: '/api/v1/sessions/{id}/bookings',
    // The body names candidate A: candidate B may not book on their behalf.
    allowed: ['admin', 'ownerAuthor', 'ownerCandidate'],
    url: (w) => `/api/v1/sessions/${w.sessionId}/bookings`,
    body: (w) => ({ candidateId: w.candidateId }),
  },
  { method: 'GET', path: '/api/v1/bookings', allowed: EVERYONE, url: () => '/api/v1/bookings' },
  { method: 'GET', path: '/api/v1/bookings/{id}', allowed: OWNERS, url: (w) => `/api/v1/bookings/${w.bookingId}` },
  { method: 'DELETE', path: '/api/v1/bookings/{id}', allowed: OWNERS, url: (w) => `/api/v1/bookings/${w.bookingId}` },
  { method: 'POST', path: '/api/v1/bookings/{bookingId}/attempt', allowed: ['ownerCandidate'], url: (w) => `/api/v1/bookings/${w.bookingId}/attempt` },
  { method: 'GET', path: '/api/v1/attempts', allowed: EVERYONE, url: () => '/api/v1/attempts' },
  { method: 'GET', path: '/api/v1/attempts/{id}', allowed: OWNERS, url: (w) => `/api/v1/attempts/${w.attemptId}` },
  { method: 'GET', path: '/api/v1/attempts/{id}/paper', allowed: OWNERS, url: (w) => `/api/v1/attempts/${w.attemptId}/paper` },
  {
    method: 'PUT',
    path: '/api/v1/attempts/{id}/answers',
    allowed: ['ownerCandidate'],
    url: (w) => `/api/v1/attempts/${w.attemptId}/answers`,
    body: (w) => ({ answers: [{ questionId: w.questionId, value: 'a', seq: 1 }] }),
  },
  { method: 'POST', path: '/api/v1/attempts/{id}/submit', allowed: ['ownerCandidate'], url: (w) => `/api/v1/attempts/${w.attemptId}/submit`, body: () => ({}) },
  { method: 'GET', path: '/api/v1/attempts/{id}/result', allowed: OWNERS, url: (w) => `/api/v1/attempts/${w.attemptId}/result` },
];

/** Routes anyone may call: they authenticate by what is in the body. */
rules.push(
  { method: 'POST', path: '/api/v1/materials', allowed: STAFF, url: () => '/api/v1/materials', body: () => ({}) },
  { method: 'GET', path: '/api/v1/materials', allowed: STAFF, url: () => '/api/v1/materials' },
  { method: 'GET', path: '/api/v1/materials/events', allowed: STAFF, url: () => '/api/v1/materials/events', stream: true },
  { method: 'GET', path: '/api/v1/materials/{id}', allowed: OWNER_STAFF, url: (w) => `/api/v1/materials/${w.materialId}` },
  { method: 'GET', path: '/api/v1/materials/{id}/events', allowed: OWNER_STAFF, url: (w) => `/api/v1/materials/${w.materialId}/events`, stream: true },
  { method: 'GET', path: '/api/v1/materials/{id}/pages/{page}', allowed: OWNER_STAFF, url: (w) => `/api/v1/materials/${w.materialId}/pages/1` },
  { method: 'GET', path: '/api/v1/materials/{id}/questions', allowed: OWNER_STAFF, url: (w) => `/api/v1/materials/${w.materialId}/questions` },
  // A failed material whose source is gone: the admin's retry answers 409 (allowed, but nothing to resume).
  { method: 'POST', path: '/api/v1/materials/{id}/retry', allowed: ['admin'], url: (w) => `/api/v1/materials/${w.materialId}/retry` },
);

/** Set in `before` to a job dead-lettered on purpose, so the admin's retry really revives one (202). */
let deadJobId = '';
rules.push(
  { method: 'GET', path: '/api/v1/admin/operations', allowed: ['admin'], url: () => '/api/v1/admin/operations' },
  { method: 'POST', path: '/api/v1/admin/dead-letters/{queue}/{id}/retry', allowed: ['admin'], url: () => `/api/v1/admin/dead-letters/grading/${deadJobId}/retry` },
  { method: 'GET', path: '/api/v1/assessments/{id}/results', allowed: OWNER_STAFF, url: (w) => `/api/v1/assessments/${w.assessmentId}/results` },
  { method: 'GET', path: '/api/v1/assessments/{id}/results.csv', allowed: OWNER_STAFF, url: (w) => `/api/v1/assessments/${w.assessmentId}/results.csv` },
);

/** A job that fails its only try, so the queue dead-letters it. */
async function deadLetter(t: TestApp): Promise<string> {
  const job = await t.ctx.queue.enqueue('grading', 'grade', { authz: true }, { maxAttempts: 1 });
  const worker = t.ctx.queue.work('grading', () => Promise.reject(new Error('dead on purpose')));
  for (let i = 0; i < 400 && (await t.ctx.queue.getJob('grading', job.id))?.state !== 'dead'; i++) await new Promise((r) => setTimeout(r, 25));
  await worker.close();
  return job.id;
}

const PUBLIC = new Set(['POST /api/v1/auth/login', 'POST /api/v1/auth/access-code', 'POST /api/v1/auth/refresh', 'POST /api/v1/auth/logout']);

for (const target of dbTargets()) {
  describe(`authorization matrix (${target.name})`, () => {
    let t: TestApp;
    const actors = {} as Record<Exclude<Who, 'anon'>, Actor>;

    /** Fresh resources owned by ownerAuthor, with ownerCandidate booked and started. */
    async function world(): Promise<World> {
      const k = t.ctx.db.kysely;
      const cols = questionBody(Q);
      const q = await k
        .insertInto('questions')
        .values({ owner_id: actors.ownerAuthor.id, type: cols.type, stem: cols.stem, points: cols.points, tags: cols.tags, body: JSON.stringify(cols.body), status: 'approved' })
        .returning('id')
        .executeTakeFirstOrThrow();
      const a = await k
        .insertInto('assessments')
        .values({ owner_id: actors.ownerAuthor.id, title: 'Authz', time_limit_s: 600, items: JSON.stringify([{ questionId: q.id }]) })
        .returning('id')
        .executeTakeFirstOrThrow();
      const v = await publishAssessment(k, { id: actors.ownerAuthor.id, role: 'author', district: null }, a.id);
      const versionId = (await k.selectFrom('assessment_versions').select('id').where('assessment_id', '=', a.id).where('version', '=', v.version).executeTakeFirstOrThrow()).id;
      const s = await k
        .insertInto('exam_sessions')
        .values({
          assessment_id: a.id,
          assessment_version_id: versionId,
          owner_id: actors.ownerAuthor.id,
          district: 'north',
          starts_at: new Date(Date.now() - 60_000),
          ends_at: new Date(Date.now() + 3_600_000),
          capacity: 10,
          booked: 1,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      const b = await k
        .insertInto('bookings')
        .values({ session_id: s.id, assessment_id: a.id, candidate_id: actors.ownerCandidate.id })
        .returning('id')
        .executeTakeFirstOrThrow();
      const attempt = JSON.parse(await t.ctx.attempts.start({ id: actors.ownerCandidate.id, role: 'candidate', district: 'north' }, b.id)) as { id: string };
      const m = await k
        .insertInto('materials')
        .values({
          id: crypto.randomUUID(),
          owner_id: actors.ownerAuthor.id,
          filename: 'authz.pdf',
          object_key: 'materials/authz/none.pdf',
          sha256: crypto.randomUUID(),
          size_bytes: 1,
          status: 'failed',
          failed_stage: 'extract',
          error_code: 'pdf_invalid',
          error_message: 'broken',
          params: JSON.stringify({ count: 1, types: ['true_false'] }),
          source_deleted_at: new Date(),
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      await k.insertInto('material_pages').values({ material_id: m.id, page: 1, text: 'Authz page text.' }).execute();
      return { questionId: q.id, assessmentId: a.id, sessionId: s.id, bookingId: b.id, attemptId: attempt.id, candidateId: actors.ownerCandidate.id, materialId: m.id };
    }

    before(async () => {
      t = await createTestApp(target);
      actors.admin = await t.staff('admin');
      actors.ownerAuthor = await t.staff('author');
      actors.otherAuthor = await t.staff('author');
      actors.ownerCandidate = await t.candidate('north');
      actors.otherCandidate = await t.candidate('north');
      deadJobId = await deadLetter(t);
    });
    after(() => t.close());

    it('has a rule for every API route', () => {
      const spec = t.app.swagger() as { paths: Record<string, Record<string, unknown>> };
      const routes = Object.entries(spec.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
      const covered = new Set(rules.map((r) => `${r.method} ${r.path}`));
      const missing = routes.filter((r) => r.startsWith(`${r.split(' ')[0]} /api/`) && !covered.has(r) && !PUBLIC.has(r));
      assert.deepEqual(missing, [], 'routes without an authorization rule');
    });

    for (const rule of rules) {
      it(`${rule.method} ${rule.path}`, async () => {
        for (const who of ['anon', ...EVERYONE] as Who[]) {
          const w = await world();
          const res = await t.app.inject({
            method: rule.method,
            url: rule.url(w),
            ...(who === 'anon' ? {} : { headers: actors[who].headers }),
            ...(rule.body ? { payload: rule.body(w) as object } : {}),
            ...(rule.stream ? { payloadAsStream: true } : {}),
          });
          if (rule.stream) res.stream().destroy();
          const text = rule.stream ? '(event stream)' : res.body;
          const denied = res.statusCode === 401 || res.statusCode === 403 || res.statusCode === 404;
          const expectAllowed = who !== 'anon' && rule.allowed.includes(who);
          assert.ok(res.statusCode < 500, `${who}: ${res.statusCode} ${text}`);
          assert.equal(!denied, expectAllowed, `${who} → ${res.statusCode} ${text.slice(0, 300)}`);
          if (who === 'anon') assert.equal(res.statusCode, 401);
        }
      });
    }

    it('lists never show another owner\'s data', async () => {
      const w = await world();
      const get = async (who: Exclude<Who, 'anon'>, url: string) =>
        (await t.app.inject({ method: 'GET', url, headers: actors[who].headers })).body;
      assert.ok(!(await get('otherAuthor', '/api/v1/questions')).includes(w.questionId));
      assert.ok(!(await get('otherAuthor', '/api/v1/assessments')).includes(w.assessmentId));
      assert.ok(!(await get('otherAuthor', '/api/v1/sessions')).includes(w.sessionId));
      assert.ok(!(await get('otherAuthor', '/api/v1/bookings')).includes(w.bookingId));
      assert.ok(!(await get('otherAuthor', '/api/v1/attempts')).includes(w.attemptId));
      assert.ok(!(await get('otherCandidate', '/api/v1/bookings')).includes(w.bookingId));
      assert.ok(!(await get('otherCandidate', '/api/v1/attempts')).includes(w.attemptId));
      assert.ok((await get('ownerAuthor', '/api/v1/attempts')).includes(w.attemptId));
      assert.ok((await get('admin', '/api/v1/questions')).includes(w.questionId));
    });
  });
}
