import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestApp, type Actor, type TestApp } from '../../testing/app.ts';
import { dbTargets } from '../../testing/db.ts';

interface Problem {
  status: number;
  code: string;
  detail: string;
  errors?: { path: string; message: string }[];
}

interface Question {
  id: string;
  type: string;
  stem: string;
  points: number;
  feedback: string | null;
  tags: string[];
  difficulty: string | null;
  status: string;
  source: unknown;
  ownerId: string;
  createdAt: string;
  updatedAt: string;
  [field: string]: unknown;
}

interface Page {
  items: Question[];
  nextCursor: string | null;
}

const API = '/api/v1';
const NO_SUCH_ID = '4b0c6a4e-9d0e-4a4f-8d35-9a4c9f3b2a11';

const singleChoice = (stem = 'Which planet is largest?', extra: Record<string, unknown> = {}) => ({
  type: 'single_choice',
  stem,
  options: [
    { id: 'a', text: 'Jupiter' },
    { id: 'b', text: 'Mars' },
  ],
  correct: 'a',
  ...extra,
});

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

    async function create(actor: Actor, body: Record<string, unknown>): Promise<Question> {
      const res = await call<Question>(actor, 'POST', '/questions', body);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body;
    }

    function expectInvalid(res: { status: number; body: Problem; type: string }, field: string): void {
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.match(String(res.type), /application\/problem\+json/);
      assert.equal(res.body.code, 'validation_failed');
      assert.ok(res.body.detail.includes(field), `"${res.body.detail}" should name ${field}`);
    }

    describe('create and read', () => {
      it('creates each question type as a draft and returns the full question', async () => {
        const sc = await create(
          alice,
          singleChoice('Which planet is largest?', {
            points: 2.5,
            feedback: 'Jupiter is 11 Earths wide.',
            tags: ['  Planets ', 'planets', 'Solar  System'],
            difficulty: 'easy',
          }),
        );
        assert.match(sc.id, /^[0-9a-f-]{36}$/);
        assert.equal(sc.type, 'single_choice');
        assert.equal(sc.stem, 'Which planet is largest?');
        assert.equal(sc.points, 2.5);
        assert.equal(sc.feedback, 'Jupiter is 11 Earths wide.');
        assert.deepEqual(sc.tags, ['planets', 'solar system']);
        assert.equal(sc.difficulty, 'easy');
        assert.equal(sc.status, 'draft');
        assert.equal(sc.source, null);
        assert.equal(sc.ownerId, alice.id);
        assert.deepEqual(sc.options, [
          { id: 'a', text: 'Jupiter' },
          { id: 'b', text: 'Mars' },
        ]);
        assert.equal(sc.correct, 'a');
        assert.ok(!Number.isNaN(Date.parse(sc.createdAt)));
        assert.equal(sc.createdAt, sc.updatedAt);

        const mr = await create(alice, {
          type: 'multiple_response',
          stem: 'Which are gas giants?',
          options: [
            { id: 'j', text: 'Jupiter' },
            { id: 's', text: 'Saturn' },
            { id: 'm', text: 'Mars' },
          ],
          correct: ['j', 's'],
        });
        assert.deepEqual(mr.correct, ['j', 's']);
        assert.equal(mr.scoring, 'all_or_nothing');
        assert.equal(mr.points, 1);
        assert.equal(mr.feedback, null);
        assert.equal(mr.difficulty, null);
        assert.deepEqual(mr.tags, []);

        const tf = await create(alice, { type: 'true_false', stem: 'Pluto is a planet.', correct: false });
        assert.equal(tf.correct, false);

        const st = await create(alice, { type: 'short_text', stem: 'Name the red planet.', accepted: ['Mars'] });
        assert.deepEqual(st.accepted, ['Mars']);
        assert.equal(st.match, 'normalized');

        const num = await create(alice, { type: 'numeric', stem: 'How many planets?', answer: 8, tolerance: 0.5 });
        assert.equal(num.answer, 8);
        assert.equal(num.tolerance, 0.5);

        for (const q of [sc, mr, tf, st, num]) {
          const got = await call<Question>(alice, 'GET', `/questions/${q.id}`);
          assert.equal(got.status, 200);
          assert.deepEqual(got.body, q);
        }
      });

      it('rejects invalid questions with 400 naming the field', async () => {
        expectInvalid(await call(alice, 'POST', '/questions', { type: 'single_choice', options: [], correct: 'a' }), 'stem');
        expectInvalid(await call(alice, 'POST', '/questions', { type: 'essay', stem: 'Discuss.' }), 'type');
        expectInvalid(await call(alice, 'POST', '/questions', singleChoice('x', { correct: 'z' })), 'correct');
        expectInvalid(await call(alice, 'POST', '/questions', singleChoice('x', { points: 0 })), 'points');
        expectInvalid(await call(alice, 'POST', '/questions', singleChoice('x', { status: 'approved' })), 'status');
        expectInvalid(
          await call(alice, 'POST', '/questions', { type: 'numeric', stem: 'n', answer: 'eight' }),
          'answer',
        );
        expectInvalid(
          await call(alice, 'POST', '/questions', { type: 'short_text', stem: 's', accepted: ['(a+)+'], match: 'regex' }),
          'accepted',
        );
        const none = await call<Page>(alice, 'GET', '/questions?q=x&limit=200');
        assert.ok(!none.body.items.some((q) => q.stem === 'x'), 'nothing was stored');
      });

      it('answers 404 for an unknown id and 400 for a malformed one', async () => {
        const missing = await call<Problem>(alice, 'GET', `/questions/${NO_SUCH_ID}`);
        assert.equal(missing.status, 404);
        assert.equal(missing.body.code, 'not_found');
        expectInvalid(await call(alice, 'GET', '/questions/42'), 'id');
      });
    });

    describe('edit, review, delete', () => {
      it('patches some fields and validates the merged question', async () => {
        const q = await create(alice, singleChoice('Original?', { feedback: 'why', tags: ['one'] }));
        const res = await call<Question>(alice, 'PATCH', `/questions/${q.id}`, { stem: 'Edited?', points: 3 });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.equal(res.body.stem, 'Edited?');
        assert.equal(res.body.points, 3);
        assert.equal(res.body.feedback, 'why');
        assert.deepEqual(res.body.tags, ['one']);
        assert.deepEqual(res.body.options, q.options);
        assert.equal(res.body.createdAt, q.createdAt);
        assert.ok(res.body.updatedAt >= q.updatedAt);

        // New options that no longer contain the correct id: invalid as a whole.
        expectInvalid(
          await call(alice, 'PATCH', `/questions/${q.id}`, {
            options: [
              { id: 'x', text: 'X' },
              { id: 'y', text: 'Y' },
            ],
          }),
          'correct',
        );
        expectInvalid(await call(alice, 'PATCH', `/questions/${q.id}`, { type: 'true_false' }), 'type');
        expectInvalid(await call(alice, 'PATCH', `/questions/${q.id}`, { accepted: ['x'] }), 'accepted');
        expectInvalid(await call(alice, 'PATCH', `/questions/${q.id}`, { stem: '' }), 'stem');
        const unchanged = await call<Question>(alice, 'GET', `/questions/${q.id}`);
        assert.equal(unchanged.body.stem, 'Edited?');
        assert.equal(unchanged.body.correct, 'a');

        // Both together are consistent; null clears an optional field.
        const both = await call<Question>(alice, 'PATCH', `/questions/${q.id}`, {
          options: [
            { id: 'x', text: 'X' },
            { id: 'y', text: 'Y' },
          ],
          correct: 'y',
          feedback: null,
        });
        assert.equal(both.status, 200, JSON.stringify(both.body));
        assert.equal(both.body.correct, 'y');
        assert.equal(both.body.feedback, null);
      });

      it('approves and rejects; an approved question stays approved when edited', async () => {
        const q = await create(alice, singleChoice('Review me'));
        const approved = await call<Question>(alice, 'POST', `/questions/${q.id}/approve`);
        assert.equal(approved.status, 200);
        assert.equal(approved.body.status, 'approved');
        const edited = await call<Question>(alice, 'PATCH', `/questions/${q.id}`, { stem: 'Review me again' });
        assert.equal(edited.body.status, 'approved');
        assert.equal(edited.body.stem, 'Review me again');
        const rejected = await call<Question>(alice, 'POST', `/questions/${q.id}/reject`);
        assert.equal(rejected.body.status, 'rejected');
        const got = await call<Question>(alice, 'GET', `/questions/${q.id}`);
        assert.equal(got.body.status, 'rejected');
        assert.equal((await call(alice, 'POST', `/questions/${NO_SUCH_ID}/approve`)).status, 404);
      });

      it('deletes a question', async () => {
        const q = await create(alice, singleChoice('Delete me'));
        const del = await call(alice, 'DELETE', `/questions/${q.id}`);
        assert.equal(del.status, 204);
        assert.equal((await call(alice, 'GET', `/questions/${q.id}`)).status, 404);
        assert.equal((await call(alice, 'DELETE', `/questions/${q.id}`)).status, 404);
      });

      it('bulk-approves own questions and reports the ids it could not find', async () => {
        const d1 = await create(alice, singleChoice('Bulk 1'));
        const d2 = await create(alice, singleChoice('Bulk 2'));
        const done = await create(alice, singleChoice('Bulk 3'));
        await call(alice, 'POST', `/questions/${done.id}/approve`);
        const bobs = await create(bob, singleChoice('Not yours'));

        const res = await call<{ approved: number; alreadyApproved: string[]; notFound: string[] }>(
          alice,
          'POST',
          '/questions/bulk-approve',
          { ids: [d1.id, d2.id.toUpperCase(), done.id, bobs.id, NO_SUCH_ID, d1.id] },
        );
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.equal(res.body.approved, 2);
        assert.deepEqual(res.body.alreadyApproved, [done.id]);
        assert.deepEqual([...res.body.notFound].sort(), [bobs.id, NO_SUCH_ID].sort());
        for (const id of [d1.id, d2.id]) {
          assert.equal((await call<Question>(alice, 'GET', `/questions/${id}`)).body.status, 'approved');
        }
        assert.equal((await call<Question>(bob, 'GET', `/questions/${bobs.id}`)).body.status, 'draft');

        expectInvalid(await call(alice, 'POST', '/questions/bulk-approve', { ids: [] }), 'ids');
        expectInvalid(await call(alice, 'POST', '/questions/bulk-approve', { ids: ['nope'] }), 'ids.0');

        const asAdmin = await call<{ approved: number }>(admin, 'POST', '/questions/bulk-approve', { ids: [bobs.id] });
        assert.equal(asAdmin.body.approved, 1);
      });
    });

    describe('listing', () => {
      let carol: Actor;
      const created: Question[] = [];

      before(async () => {
        carol = await t.staff('author');
        created.push(await create(carol, singleChoice('What is 50% of 80?', { tags: ['Percent', 'arithmetic'] })));
        created.push(await create(carol, singleChoice('What is 500 - 1?', { tags: ['arithmetic'] })));
        created.push(await create(carol, { type: 'true_false', stem: 'Is snake_case a style?', correct: true }));
        created.push(await create(carol, { type: 'numeric', stem: 'Digits in 5000?', answer: 4, tags: ['arithmetic'] }));
        created.push(await create(carol, { type: 'short_text', stem: 'Spell FIVE in lower case', accepted: ['five'] }));
        await call(carol, 'POST', `/questions/${created[1]!.id}/approve`);
        await call(carol, 'POST', `/questions/${created[3]!.id}/approve`);
        await call(carol, 'POST', `/questions/${created[4]!.id}/reject`);
      });

      const stems = (page: Page) => page.items.map((q) => q.stem);

      it('lists newest first and pages with a cursor', async () => {
        const seen: string[] = [];
        const sizes: number[] = [];
        let cursor: string | null = null;
        do {
          const res: { status: number; body: Page } = await call(
            carol,
            'GET',
            `/questions?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
          );
          assert.equal(res.status, 200);
          sizes.push(res.body.items.length);
          seen.push(...res.body.items.map((q) => q.id));
          cursor = res.body.nextCursor;
        } while (cursor);
        assert.deepEqual(sizes, [2, 2, 1]);
        assert.deepEqual(
          seen,
          created.map((q) => q.id).reverse(),
        );

        const exact = await call<Page>(carol, 'GET', '/questions?limit=5');
        assert.equal(exact.body.items.length, 5);
        assert.equal(exact.body.nextCursor, null, 'no empty last page');

        expectInvalid(await call(carol, 'GET', '/questions?limit=201'), 'limit');
        expectInvalid(await call(carol, 'GET', '/questions?limit=0'), 'limit');
        expectInvalid(await call(carol, 'GET', '/questions?cursor=not-a-cursor'), 'cursor');
        const forged = Buffer.from(JSON.stringify(['2026-01-01T00:00:00.000000Z', "x'; drop table questions"])).toString(
          'base64url',
        );
        expectInvalid(await call(carol, 'GET', `/questions?cursor=${forged}`), 'cursor');
      });

      it('filters by status, type, tag and text', async () => {
        const approved = await call<Page>(carol, 'GET', '/questions?status=approved');
        assert.deepEqual(stems(approved.body), ['Digits in 5000?', 'What is 500 - 1?']);
        const drafts = await call<Page>(carol, 'GET', '/questions?status=draft');
        assert.deepEqual(stems(drafts.body), ['Is snake_case a style?', 'What is 50% of 80?']);
        const rejected = await call<Page>(carol, 'GET', '/questions?status=rejected');
        assert.deepEqual(stems(rejected.body), ['Spell FIVE in lower case']);

        const numeric = await call<Page>(carol, 'GET', '/questions?type=numeric');
        assert.deepEqual(stems(numeric.body), ['Digits in 5000?']);

        const tagged = await call<Page>(carol, 'GET', `/questions?tag=${encodeURIComponent(' ARITHMETIC ')}`);
        assert.deepEqual(stems(tagged.body), ['Digits in 5000?', 'What is 500 - 1?', 'What is 50% of 80?']);
        const combined = await call<Page>(carol, 'GET', '/questions?tag=arithmetic&status=approved&type=single_choice');
        assert.deepEqual(stems(combined.body), ['What is 500 - 1?']);

        const text = await call<Page>(carol, 'GET', '/questions?q=WHAT%20is');
        assert.deepEqual(stems(text.body), ['What is 500 - 1?', 'What is 50% of 80?']);
        // Wildcards are literal: "50%" must not match "500", "e_c" must not match "e c".
        const percent = await call<Page>(carol, 'GET', `/questions?q=${encodeURIComponent('50%')}`);
        assert.deepEqual(stems(percent.body), ['What is 50% of 80?']);
        const underscore = await call<Page>(carol, 'GET', `/questions?q=${encodeURIComponent('e_c')}`);
        assert.deepEqual(stems(underscore.body), ['Is snake_case a style?']);
        const backslash = await call<Page>(carol, 'GET', `/questions?q=${encodeURIComponent('\\')}`);
        assert.deepEqual(stems(backslash.body), []);

        expectInvalid(await call(carol, 'GET', '/questions?status=pending'), 'status');
        expectInvalid(await call(carol, 'GET', '/questions?type=essay'), 'type');
      });
    });

    describe('ownership', () => {
      it("hides another author's question behind 404, lets admins see all, keeps candidates out", async () => {
        const q = await create(alice, singleChoice('Alice only'));
        for (const [method, url, body] of [
          ['GET', `/questions/${q.id}`, undefined],
          ['PATCH', `/questions/${q.id}`, { stem: 'Hijacked' }],
          ['DELETE', `/questions/${q.id}`, undefined],
          ['POST', `/questions/${q.id}/approve`, undefined],
          ['POST', `/questions/${q.id}/reject`, undefined],
        ] as const) {
          const res = await call<Problem>(bob, method, url, body);
          assert.equal(res.status, 404, `${method} ${url}`);
          assert.equal(res.body.code, 'not_found');
        }
        const still = await call<Question>(alice, 'GET', `/questions/${q.id}`);
        assert.equal(still.body.stem, 'Alice only');
        assert.equal(still.body.status, 'draft');

        const bobsList = await call<Page>(bob, 'GET', '/questions?limit=200');
        assert.ok(bobsList.body.items.length > 0);
        assert.ok(bobsList.body.items.every((x) => x.ownerId === bob.id));

        const all = await call<Page>(admin, 'GET', '/questions?limit=200');
        const owners = new Set(all.body.items.map((x) => x.ownerId));
        assert.ok(owners.has(alice.id) && owners.has(bob.id));
        const asAdmin = await call<Question>(admin, 'GET', `/questions/${q.id}`);
        assert.equal(asAdmin.status, 200);
        assert.equal(asAdmin.body.ownerId, alice.id);
        const adminEdit = await call<Question>(admin, 'PATCH', `/questions/${q.id}`, { stem: 'Fixed by admin' });
        assert.equal(adminEdit.body.stem, 'Fixed by admin');
        assert.equal(adminEdit.body.ownerId, alice.id);

        for (const [method, url, body] of [
          ['GET', '/questions', undefined],
          ['POST', '/questions', singleChoice('candidate')],
          ['GET', `/questions/${q.id}`, undefined],
          ['POST', '/questions/bulk-approve', { ids: [q.id] }],
        ] as const) {
          const res = await call<Problem>(candidate, method, url, body);
          assert.equal(res.status, 403, `${method} ${url}`);
          assert.equal(res.body.code, 'forbidden');
        }
        const anonymous = await call<Problem>(null, 'GET', '/questions');
        assert.equal(anonymous.status, 401);
        assert.equal(anonymous.body.code, 'unauthenticated');
      });
    });
  });
}
