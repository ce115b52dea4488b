import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestApp, type Actor, type TestApp } from '../../testing/app.ts';
import { dbTargets } from '../../testing/db.ts';
import { fromContent } from '../questions/model.ts';
import { drawQuestionIds, type VersionContent } from './content.ts';

interface Problem {
  status: number;
  code: string;
  detail: string;
  errors?: { path: string; message: string }[];
  problems?: string[];
  missing?: string[];
  notApproved?: string[];
}

interface VersionSummary {
  id: string;
  version: number;
  publishedAt: string;
  maxScore: number;
  questionCount: number;
}

interface Assessment {
  id: string;
  ownerId: string;
  title: string;
  description: string;
  timeLimitS: number;
  shuffleItems: boolean;
  shuffleOptions: boolean;
  releasePolicy: string;
  items: ({ questionId: string } | { tag: string; count: number })[];
  latestVersion: number;
  resultsReleasedAt: string | null;
  createdAt: string;
  updatedAt: string;
  versions?: VersionSummary[];
}

interface FrozenQuestion {
  id: string;
  type: string;
  stem: string;
  points: number;
  [field: string]: unknown;
}

interface Version extends VersionSummary {
  assessmentId: string;
  content: VersionContent<FrozenQuestion>;
}

const API = '/api/v1';

for (const target of dbTargets()) {
  describe(target.name, () => {
    let t: TestApp;
    let alice: Actor;
    let bob: Actor;
    let admin: Actor;
    let candidate: Actor;

    before(async () => {
      t = await createTestApp(target);
      [alice, bob, admin] = await Promise.all([t.staff('author'), t.staff('author'), t.staff('admin')]);
      candidate = await t.candidate();
    });
    after(async () => {
      await t.close();
    });

    async function call<T>(actor: Actor | null, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) {
      const res = await t.app.inject({
        method,
        url: `${API}${url}`,
        ...(actor ? { headers: actor.headers } : {}),
        ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
      });
      return { status: res.statusCode, body: (res.body ? res.json() : undefined) as T, type: String(res.headers['content-type']) };
    }

    /** A single-choice question in `actor`'s bank, approved unless asked otherwise. */
    async function question(
      actor: Actor,
      opts: { stem?: string; points?: number; tags?: string[]; approve?: boolean } = {},
    ): Promise<string> {
      const res = await call<{ id: string }>(actor, 'POST', '/questions', {
        type: 'single_choice',
        stem: opts.stem ?? 'Which planet is largest?',
        points: opts.points ?? 1,
        tags: opts.tags ?? [],
        options: [
          { id: 'a', text: 'Jupiter' },
          { id: 'b', text: 'Mars' },
        ],
        correct: 'a',
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      if (opts.approve !== false) {
        const ok = await call(actor, 'POST', `/questions/${res.body.id}/approve`);
        assert.equal(ok.status, 200, JSON.stringify(ok.body));
      }
      return res.body.id;
    }

    async function assessment(actor: Actor, body: Record<string, unknown> = {}): Promise<Assessment> {
      const res = await call<Assessment>(actor, 'POST', '/assessments', { title: 'Quiz', timeLimitS: 600, ...body });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body;
    }

    describe('drafts', () => {
      it('creates a draft with defaults and returns it', async () => {
        const q = await question(alice);
        const res = await call<Assessment>(alice, 'POST', '/assessments', {
          title: '  Astronomy 101  ',
          timeLimitS: 1800,
          items: [{ questionId: q }, { tag: 'planets', count: 2 }],
        });
        assert.equal(res.status, 201);
        const a = res.body;
        assert.match(a.id, /^[0-9a-f-]{36}$/);
        assert.equal(a.ownerId, alice.id);
        assert.equal(a.title, 'Astronomy 101');
        assert.equal(a.description, '');
        assert.equal(a.timeLimitS, 1800);
        assert.equal(a.shuffleItems, false);
        assert.equal(a.shuffleOptions, false);
        assert.equal(a.releasePolicy, 'on_submit');
        assert.deepEqual(a.items, [{ questionId: q }, { tag: 'planets', count: 2 }]);
        assert.equal(a.latestVersion, 0);
        assert.equal(a.resultsReleasedAt, null);
        assert.ok(!Number.isNaN(Date.parse(a.createdAt)));

        const got = await call<Assessment>(alice, 'GET', `/assessments/${a.id}`);
        assert.equal(got.status, 200);
        assert.deepEqual(got.body.versions, []);
        assert.equal(got.body.title, 'Astronomy 101');
        assert.deepEqual(got.body.items, a.items);
      });

      it('rejects invalid drafts with 400 naming the field', async () => {
        const cases: [Record<string, unknown>, string][] = [
          [{ title: 'x', timeLimitS: 59 }, 'timeLimitS'],
          [{ title: 'x', timeLimitS: 86_401 }, 'timeLimitS'],
          [{ title: '   ', timeLimitS: 600 }, 'title'],
          [{ timeLimitS: 600 }, 'title'],
          [{ title: 'x', timeLimitS: 600, releasePolicy: 'never' }, 'releasePolicy'],
          [{ title: 'x', timeLimitS: 600, items: [{ questionId: 'not-a-uuid' }] }, 'items.0'],
          [{ title: 'x', timeLimitS: 600, items: [{ tag: 'a', count: 0 }] }, 'items.0'],
          [{ title: 'x', timeLimitS: 600, colour: 'red' }, 'colour'],
        ];
        for (const [body, field] of cases) {
          const res = await call<Problem>(alice, 'POST', '/assessments', body);
          assert.equal(res.status, 400, JSON.stringify(body));
          assert.match(String(res.type), /application\/problem\+json/);
          assert.equal(res.body.code, 'validation_failed');
          assert.ok(res.body.detail.includes(field), `${res.body.detail} should name ${field}`);
        }
      });

      it('refuses a question listed twice or a tag with two sections', async () => {
        const q = await question(alice);
        const twice = await call<Problem>(alice, 'POST', '/assessments', {
          title: 'x',
          timeLimitS: 600,
          items: [{ questionId: q }, { questionId: q }],
        });
        assert.equal(twice.status, 400);
        assert.ok(twice.body.detail.includes('items.1.questionId'), twice.body.detail);
        assert.ok(twice.body.detail.includes('listed twice'), twice.body.detail);

        const tags = await call<Problem>(alice, 'POST', '/assessments', {
          title: 'x',
          timeLimitS: 600,
          items: [
            { tag: 'a', count: 1 },
            { tag: 'a', count: 2 },
          ],
        });
        assert.equal(tags.status, 400);
        assert.ok(tags.body.detail.includes('items.1.tag'), tags.body.detail);
      });

      it('patches only the given fields and re-validates them', async () => {
        const a = await assessment(alice, { description: 'before' });
        const res = await call<Assessment>(alice, 'PATCH', `/assessments/${a.id}`, {
          title: 'Renamed',
          shuffleItems: true,
          releasePolicy: 'manual',
          items: [{ tag: 'moons', count: 3 }],
        });
        assert.equal(res.status, 200);
        assert.equal(res.body.title, 'Renamed');
        assert.equal(res.body.description, 'before');
        assert.equal(res.body.timeLimitS, 600);
        assert.equal(res.body.shuffleItems, true);
        assert.equal(res.body.releasePolicy, 'manual');
        assert.deepEqual(res.body.items, [{ tag: 'moons', count: 3 }]);
        assert.ok(res.body.updatedAt >= a.updatedAt);

        const bad = await call<Problem>(alice, 'PATCH', `/assessments/${a.id}`, { timeLimitS: 10 });
        assert.equal(bad.status, 400);
        assert.equal(bad.body.code, 'validation_failed');
        assert.ok(bad.body.detail.includes('timeLimitS'));
        const still = await call<Assessment>(alice, 'GET', `/assessments/${a.id}`);
        assert.equal(still.body.timeLimitS, 600);
      });

      it('lists own assessments newest first with cursor pagination; admins list everyone', async () => {
        const mine: Assessment[] = [];
        for (let i = 0; i < 5; i++) mine.push(await assessment(bob, { title: `Bob quiz ${i}` }));
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const page: { status: number; body: { items: Assessment[]; nextCursor: string | null } } = await call(
            bob,
            'GET',
            `/assessments?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
          );
          assert.equal(page.status, 200);
          assert.ok(page.body.items.length <= 2);
          seen.push(...page.body.items.map((a) => a.id));
          cursor = page.body.nextCursor;
          pages++;
        } while (cursor);
        assert.equal(pages, 3);
        assert.deepEqual(
          seen,
          mine.map((a) => a.id).reverse(),
        );

        const search = await call<{ items: Assessment[] }>(bob, 'GET', `/assessments?q=${encodeURIComponent('QUIZ 3')}`);
        assert.deepEqual(
          search.body.items.map((a) => a.title),
          ['Bob quiz 3'],
        );

        const all = await call<{ items: Assessment[] }>(admin, 'GET', '/assessments?limit=200');
        const owners = new Set(all.body.items.map((a) => a.ownerId));
        assert.ok(owners.has(alice.id) && owners.has(bob.id));

        const bad = await call<Problem>(bob, 'GET', '/assessments?cursor=garbage');
        assert.equal(bad.status, 400);
        assert.equal(bad.body.code, 'validation_failed');
        assert.ok(bad.body.detail.includes('cursor'));
        const tooMany = await call<Problem>(bob, 'GET', '/assessments?limit=201');
        assert.equal(tooMany.status, 400);
        assert.ok(tooMany.body.detail.includes('limit'));
      });
    });

    describe('ownership', () => {
      it("hides another author's assessment behind 404, lets admins in, keeps candidates out", async () => {
        const a = await assessment(alice, { title: 'Private' });
        await question(alice); // something to publish would still be Alice's
        for (const [method, url, body] of [
          ['GET', `/assessments/${a.id}`, undefined],
          ['PATCH', `/assessments/${a.id}`, { title: 'Hijacked' }],
          ['DELETE', `/assessments/${a.id}`, undefined],
          ['POST', `/assessments/${a.id}/publish`, undefined],
          ['POST', `/assessments/${a.id}/release-results`, undefined],
          ['GET', `/assessments/${a.id}/versions/1`, undefined],
        ] as const) {
          const res = await call<Problem>(bob, method, url, body);
          assert.equal(res.status, 404, `${method} ${url}`);
          assert.equal(res.body.code, 'not_found');
        }
        const bobsList = await call<{ items: Assessment[] }>(bob, 'GET', '/assessments?limit=200');
        assert.ok(!bobsList.body.items.some((x) => x.id === a.id));

        const asAdmin = await call<Assessment>(admin, 'GET', `/assessments/${a.id}`);
        assert.equal(asAdmin.status, 200);
        assert.equal(asAdmin.body.title, 'Private');
        const adminPatch = await call<Assessment>(admin, 'PATCH', `/assessments/${a.id}`, { description: 'reviewed' });
        assert.equal(adminPatch.status, 200);
        assert.equal(adminPatch.body.ownerId, alice.id);

        const asCandidate = await call<Problem>(candidate, 'GET', `/assessments/${a.id}`);
        assert.equal(asCandidate.status, 403);
        assert.equal(asCandidate.body.code, 'forbidden');
        const createAsCandidate = await call<Problem>(candidate, 'POST', '/assessments', { title: 'x', timeLimitS: 600 });
        assert.equal(createAsCandidate.status, 403);
        const anonymous = await call<Problem>(null, 'GET', '/assessments');
        assert.equal(anonymous.status, 401);

        const badId = await call<Problem>(alice, 'GET', '/assessments/123');
        assert.equal(badId.status, 400);
        assert.ok(badId.body.detail.includes('id'));
      });
    });

    describe('publishing', () => {
      it('refuses an empty assessment', async () => {
        const a = await assessment(alice);
        const res = await call<Problem>(alice, 'POST', `/assessments/${a.id}/publish`);
        assert.equal(res.status, 409);
        assert.equal(res.body.code, 'not_publishable');
        assert.match(res.body.detail, /no items/);
        const after = await call<Assessment>(alice, 'GET', `/assessments/${a.id}`);
        assert.equal(after.body.latestVersion, 0);
        assert.deepEqual(after.body.versions, []);
      });

      it('refuses unapproved and foreign questions, listing them', async () => {
        const approved = await question(alice);
        const draft = await question(alice, { approve: false });
        const bobs = await question(bob);
        const a = await assessment(alice, { items: [{ questionId: approved }, { questionId: draft }, { questionId: bobs }] });
        const res = await call<Problem>(alice, 'POST', `/assessments/${a.id}/publish`);
        assert.equal(res.status, 409);
        assert.equal(res.body.code, 'not_publishable');
        assert.deepEqual(res.body.notApproved, [draft]);
        assert.deepEqual(res.body.missing, [bobs]);
        assert.ok(res.body.detail.includes(draft), res.body.detail);
        assert.ok(res.body.detail.includes(bobs), res.body.detail);
        assert.ok(!res.body.detail.includes(approved), res.body.detail);

        // Admin publishing Alice's assessment still resolves against Alice's bank.
        const asAdmin = await call<Problem>(admin, 'POST', `/assessments/${a.id}/publish`);
        assert.equal(asAdmin.status, 409);
        assert.deepEqual(asAdmin.body.missing, [bobs]);
      });

      it('publishes version 1, then 2 after edits, leaving version 1 frozen', async () => {
        const q1 = await question(alice, { stem: 'Original stem', points: 2 });
        const q2 = await question(alice, { points: 1.5 });
        const a = await assessment(alice, {
          title: 'Versioned',
          description: 'first',
          shuffleOptions: true,
          items: [{ questionId: q1 }, { questionId: q2 }],
        });

        const v1 = await call<VersionSummary>(alice, 'POST', `/assessments/${a.id}/publish`);
        assert.equal(v1.status, 201, JSON.stringify(v1.body));
        assert.equal(v1.body.version, 1);
        assert.equal(v1.body.maxScore, 3.5);
        assert.equal(v1.body.questionCount, 2);

        const frozen1 = await call<Version>(alice, 'GET', `/assessments/${a.id}/versions/1`);
        assert.equal(frozen1.status, 200);
        const c1 = frozen1.body.content;
        assert.equal(frozen1.body.assessmentId, a.id);
        assert.equal(frozen1.body.maxScore, 3.5);
        assert.equal(c1.title, 'Versioned');
        assert.equal(c1.description, 'first');
        assert.equal(c1.timeLimitS, 600);
        assert.equal(c1.shuffleOptions, true);
        assert.equal(c1.releasePolicy, 'on_submit');
        assert.deepEqual(c1.sections, [
          { kind: 'fixed', questionId: q1 },
          { kind: 'fixed', questionId: q2 },
        ]);
        assert.deepEqual(Object.keys(c1.questions).sort(), [q1, q2].sort());
        assert.equal(c1.questions[q1]?.stem, 'Original stem');
        assert.equal(c1.questions[q1]?.points, 2);
        assert.equal(c1.questions[q1]?.correct, 'a', 'the frozen copy keeps the answer for grading');
        // The attempts module reads frozen questions back with fromContent: the shape must round-trip.
        for (const [qid, raw] of Object.entries(c1.questions)) assert.deepEqual(fromContent(qid, raw), raw);

        // Edit the question and the draft: version 1 must not move.
        const edited = await call(alice, 'PATCH', `/questions/${q1}`, { stem: 'Edited stem', points: 4 });
        assert.equal(edited.status, 200, JSON.stringify(edited.body));
        await call(alice, 'PATCH', `/assessments/${a.id}`, { title: 'Versioned v2', items: [{ questionId: q1 }] });

        const v2 = await call<VersionSummary>(alice, 'POST', `/assessments/${a.id}/publish`);
        assert.equal(v2.status, 201);
        assert.equal(v2.body.version, 2);
        assert.equal(v2.body.maxScore, 4);
        assert.equal(v2.body.questionCount, 1);

        const again1 = await call<Version>(alice, 'GET', `/assessments/${a.id}/versions/1`);
        assert.deepEqual(again1.body, frozen1.body);
        const frozen2 = await call<Version>(alice, 'GET', `/assessments/${a.id}/versions/2`);
        assert.equal(frozen2.body.content.title, 'Versioned v2');
        assert.equal(frozen2.body.content.questions[q1]?.stem, 'Edited stem');

        const detail = await call<Assessment>(alice, 'GET', `/assessments/${a.id}`);
        assert.equal(detail.body.latestVersion, 2);
        assert.deepEqual(
          detail.body.versions?.map((v) => [v.version, v.maxScore, v.questionCount]),
          [
            [1, 3.5, 2],
            [2, 4, 1],
          ],
        );
        assert.equal(detail.body.versions?.[0]?.id, v1.body.id);

        const missing = await call<Problem>(alice, 'GET', `/assessments/${a.id}/versions/3`);
        assert.equal(missing.status, 404);
        const zero = await call<Problem>(alice, 'GET', `/assessments/${a.id}/versions/0`);
        assert.equal(zero.status, 400);
        assert.ok(zero.body.detail.includes('version'));
        const asAdmin = await call<Version>(admin, 'GET', `/assessments/${a.id}/versions/2`);
        assert.equal(asAdmin.status, 200);
      });

      it('gives concurrent publishes distinct consecutive versions', async () => {
        const q = await question(alice);
        const a = await assessment(alice, { items: [{ questionId: q }] });
        const results = await Promise.all(
          [1, 2, 3, 4].map(() => call<VersionSummary>(alice, 'POST', `/assessments/${a.id}/publish`)),
        );
        assert.deepEqual(
          results.map((r) => r.status),
          [201, 201, 201, 201],
        );
        assert.deepEqual(results.map((r) => r.body.version).sort(), [1, 2, 3, 4]);
        const detail = await call<Assessment>(alice, 'GET', `/assessments/${a.id}`);
        assert.equal(detail.body.latestVersion, 4);
        assert.deepEqual(
          detail.body.versions?.map((v) => v.version),
          [1, 2, 3, 4],
        );
      });

      it('freezes random tag pools, excluding fixed questions, and draws count per candidate', async () => {
        const tag = `orbits-${Date.now()}`;
        const pool: string[] = [];
        for (let i = 0; i < 4; i++) pool.push(await question(alice, { tags: [tag, 'space'], points: 2 }));
        const fixed = await question(alice, { tags: [tag], points: 2 });
        await question(alice, { tags: [tag], points: 2, approve: false }); // drafts never enter a pool
        await question(bob, { tags: [tag], points: 2 }); // nor do other authors' questions

        const a = await assessment(alice, { shuffleItems: true, items: [{ questionId: fixed }, { tag, count: 3 }] });
        const v = await call<VersionSummary>(alice, 'POST', `/assessments/${a.id}/publish`);
        assert.equal(v.status, 201, JSON.stringify(v.body));
        assert.equal(v.body.questionCount, 4);
        assert.equal(v.body.maxScore, 8);

        const frozen = await call<Version>(alice, 'GET', `/assessments/${a.id}/versions/1`);
        const [first, second] = frozen.body.content.sections;
        assert.deepEqual(first, { kind: 'fixed', questionId: fixed });
        assert.ok(second?.kind === 'random');
        assert.equal(second.tag, tag);
        assert.equal(second.count, 3);
        assert.deepEqual([...second.poolIds].sort(), [...pool].sort());
        assert.deepEqual(Object.keys(frozen.body.content.questions).sort(), [...pool, fixed].sort());

        for (const seed of [1, 2, 3, 42, 1_000_000]) {
          const drawn = drawQuestionIds(frozen.body.content, seed);
          assert.equal(drawn.length, 4);
          assert.equal(new Set(drawn).size, 4);
          assert.ok(drawn.includes(fixed));
          assert.equal(drawn.filter((id) => pool.includes(id)).length, 3);
        }

        // A new approved question joins the pool only at the next publish.
        const late = await question(alice, { tags: [tag], points: 2 });
        const still = await call<Version>(alice, 'GET', `/assessments/${a.id}/versions/1`);
        const section = still.body.content.sections[1];
        assert.ok(section?.kind === 'random' && !section.poolIds.includes(late));
        const v2 = await call<VersionSummary>(alice, 'POST', `/assessments/${a.id}/publish`);
        assert.equal(v2.status, 201);
        const frozen2 = await call<Version>(alice, 'GET', `/assessments/${a.id}/versions/2`);
        const section2 = frozen2.body.content.sections[1];
        assert.ok(section2?.kind === 'random' && section2.poolIds.includes(late));
      });

      it('refuses a pool that is too small or mixes points', async () => {
        const small = `small-${Date.now()}`;
        await question(alice, { tags: [small] });
        await question(alice, { tags: [small] });
        const a = await assessment(alice, { items: [{ tag: small, count: 3 }] });
        const res = await call<Problem>(alice, 'POST', `/assessments/${a.id}/publish`);
        assert.equal(res.status, 409);
        assert.equal(res.body.code, 'not_publishable');
        assert.ok(res.body.detail.includes(`tag "${small}" has 2 approved questions`), res.body.detail);

        const mixed = `mixed-${Date.now()}`;
        await question(alice, { tags: [mixed], points: 1 });
        await question(alice, { tags: [mixed], points: 3 });
        const b = await assessment(alice, { items: [{ tag: mixed, count: 1 }] });
        const res2 = await call<Problem>(alice, 'POST', `/assessments/${b.id}/publish`);
        assert.equal(res2.status, 409);
        assert.ok(res2.body.detail.includes('mixes questions worth 1, 3 points'), res2.body.detail);

        const unchanged = await call<Assessment>(alice, 'GET', `/assessments/${b.id}`);
        assert.equal(unchanged.body.latestVersion, 0);
      });
    });

    describe('results release and deletion', () => {
      it('releases results only for manual release, once', async () => {
        const auto = await assessment(alice);
        const refused = await call<Problem>(alice, 'POST', `/assessments/${auto.id}/release-results`);
        assert.equal(refused.status, 409);
        assert.match(refused.body.detail, /on_submit/);

        const manual = await assessment(alice, { releasePolicy: 'manual' });
        const first = await call<Assessment>(alice, 'POST', `/assessments/${manual.id}/release-results`);
        assert.equal(first.status, 200);
        assert.ok(first.body.resultsReleasedAt);
        const second = await call<Assessment>(alice, 'POST', `/assessments/${manual.id}/release-results`);
        assert.equal(second.body.resultsReleasedAt, first.body.resultsReleasedAt);

        // Candidates sat a version frozen as 'manual': its results can still be released after the draft changes policy.
        const q = await question(alice);
        const sat = await assessment(alice, { releasePolicy: 'manual', items: [{ questionId: q }] });
        assert.equal((await call(alice, 'POST', `/assessments/${sat.id}/publish`)).status, 201);
        await call(alice, 'PATCH', `/assessments/${sat.id}`, { releasePolicy: 'after_session' });
        const released = await call<Assessment>(alice, 'POST', `/assessments/${sat.id}/release-results`);
        assert.equal(released.status, 200);
        assert.ok(released.body.resultsReleasedAt);
        assert.equal(released.body.releasePolicy, 'after_session');
      });

      it('refuses to delete an assessment that has exam sessions, deletes it otherwise', async () => {
        const q = await question(alice);
        const a = await assessment(alice, { items: [{ questionId: q }] });
        const v = await call<VersionSummary>(alice, 'POST', `/assessments/${a.id}/publish`);
        assert.equal(v.status, 201);
        const session = await t.ctx.db.kysely
          .insertInto('exam_sessions')
          .values({
            assessment_id: a.id,
            assessment_version_id: v.body.id,
            owner_id: alice.id,
            district: 'north',
            starts_at: new Date(Date.now() + 3_600_000),
            ends_at: new Date(Date.now() + 7_200_000),
            capacity: 10,
          })
          .returning('id')
          .executeTakeFirstOrThrow();

        const refused = await call<Problem>(alice, 'DELETE', `/assessments/${a.id}`);
        assert.equal(refused.status, 409);
        assert.equal(refused.body.code, 'conflict');
        assert.match(refused.body.detail, /1 exam session/);
        assert.equal((await call(alice, 'GET', `/assessments/${a.id}`)).status, 200);

        await t.ctx.db.kysely.deleteFrom('exam_sessions').where('id', '=', session.id).execute();
        const deleted = await call(alice, 'DELETE', `/assessments/${a.id}`);
        assert.equal(deleted.status, 204);
        assert.equal((await call(alice, 'GET', `/assessments/${a.id}`)).status, 404);
        assert.equal((await call(alice, 'DELETE', `/assessments/${a.id}`)).status, 404);
      });
    });
  });
}
