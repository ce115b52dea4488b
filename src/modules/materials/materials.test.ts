/**
 * The content pipeline end to end on generated PDFs (always run): upload →
 * extract → generate (offline generator) → finalize → retention, with the
 * upload checks, de-duplication, quotas and the live event stream. Runs on
 * every database target; on PostgreSQL with REDIS_URL the queue is BullMQ
 * and progress fans out through Redis pub/sub.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createTestApp, type Actor, type TestApp } from '../../testing/app.ts';
import { dbTargets } from '../../testing/db.ts';
import { readEvents } from '../../testing/exam.ts';
import { makePdf } from '../../testing/pdf-fixtures.ts';
import type { MaterialView } from './model.ts';
import { API, assertCitationsValid, COURSE_PAGES, upload, waitFor } from './testing.ts';

interface Problem {
  status: number;
  code: string;
  detail: string;
}

for (const target of dbTargets()) {
  describe(`materials pipeline (${target.name})`, () => {
    let t: TestApp;
    let alice: Actor;
    let bob: Actor;
    let admin: Actor;

    before(async () => {
      t = await createTestApp(target, { UPLOAD_MAX_BYTES: '200000', RETENTION_HOURS: '0.0003' });
      t.ctx.startWorkers();
      [alice, bob, admin] = await Promise.all([t.staff('author'), t.staff('author'), t.staff('admin')]);
    });
    after(() => t.close());

    it('upload → ready: questions whose quotes stand on the cited pages; the source PDF is deleted after retention', async () => {
      const res = await upload(t, alice, makePdf(COURSE_PAGES, { title: 'Biology' }), 'biology.pdf', { count: '4', types: 'single_choice,true_false' });
      assert.equal(res.statusCode, 201, res.body);
      const created = res.json<MaterialView>();
      assert.equal(created.status, 'stored');
      assert.equal(created.filename, 'biology.pdf');
      assert.deepEqual(created.params, { count: 4, types: ['single_choice', 'true_false'] });
      assert.ok(res.headers['ratelimit-limit']);

      const ready = await waitFor(t, alice, created.id);
      assert.equal(ready.status, 'ready', JSON.stringify(ready.error));
      assert.equal(ready.pageCount, 3);
      assert.equal(ready.chunks.done, ready.chunks.total);
      assert.ok(ready.questions.created > 0);
      const questions = await assertCitationsValid(t, alice, created.id);
      assert.equal(questions.length, ready.questions.created);
      assert.ok(questions.every((q) => q.status === 'draft'));

      // The question bank shows them too, as drafts an author can approve.
      const bank = await t.app.inject({ method: 'GET', url: `${API}/questions?status=draft`, headers: alice.headers });
      assert.equal(bank.json<{ items: unknown[] }>().items.length, questions.length);
      const approved = await t.app.inject({ method: 'POST', url: `${API}/questions/${questions[0]!.id}/approve`, headers: alice.headers });
      assert.equal(approved.statusCode, 200);

      const row = await t.ctx.db.kysely.selectFrom('materials').select('object_key').where('id', '=', created.id).executeTakeFirstOrThrow();
      const gone = await waitFor(t, alice, created.id, (m) => m.sourceDeletedAt !== null, 30_000);
      assert.ok(gone.sourceDeletedAt);
      assert.equal(await t.ctx.blobs.head(row.object_key), null);
      // Text and questions stay.
      const page = await t.app.inject({ method: 'GET', url: `${API}/materials/${created.id}/pages/1`, headers: alice.headers });
      assert.equal(page.statusCode, 200);
      assert.match(page.json<{ text: string }>().text, /Photosynthesis/);
      assert.equal((await assertCitationsValid(t, alice, created.id)).length, questions.length);
    });

    it('someone else’s material is 404; candidates cannot upload', async () => {
      const res = await upload(t, alice, makePdf([COURSE_PAGES[0]!]), 'private.pdf');
      const id = res.json<MaterialView>().id;
      const other = await t.app.inject({ method: 'GET', url: `${API}/materials/${id}`, headers: bob.headers });
      assert.equal(other.statusCode, 404);
      const asAdmin = await t.app.inject({ method: 'GET', url: `${API}/materials/${id}`, headers: admin.headers });
      assert.equal(asAdmin.statusCode, 200);
      const candidate = await t.candidate();
      assert.equal((await upload(t, candidate, makePdf([COURSE_PAGES[0]!]))).statusCode, 403);
      await waitFor(t, alice, id);
    });

    it('a non-PDF is refused with 415 not_a_pdf and nothing is stored', async () => {
      const before = await t.ctx.blobs.usage(`materials/${alice.id}/`);
      const res = await upload(t, alice, Buffer.from('<html><body>not a pdf at all</body></html>'.repeat(100)), 'page.pdf');
      assert.equal(res.statusCode, 415, res.body);
      assert.equal(res.json<Problem>().code, 'not_a_pdf');
      const empty = await upload(t, alice, Buffer.alloc(0), 'empty.pdf');
      assert.equal(empty.statusCode, 415);
      assert.deepEqual(await t.ctx.blobs.usage(`materials/${alice.id}/`), before);
    });

    it('a file over UPLOAD_MAX_BYTES is refused with 413 and nothing is stored', async () => {
      const before = await t.ctx.blobs.usage(`materials/${alice.id}/`);
      const big = Buffer.concat([makePdf([COURSE_PAGES[0]!]), Buffer.alloc(250_000, 0x20)]);
      const res = await upload(t, alice, big, 'big.pdf');
      assert.equal(res.statusCode, 413, res.body);
      assert.equal(res.json<Problem>().code, 'payload_too_large');
      assert.deepEqual(await t.ctx.blobs.usage(`materials/${alice.id}/`), before);
    });

    it('invalid form fields are a 400 that names the field', async () => {
      const res = await upload(t, alice, makePdf([COURSE_PAGES[0]!]), 'x.pdf', { count: '99' });
      assert.equal(res.statusCode, 400, res.body);
      assert.match(res.json<Problem>().detail, /count/);
    });

    it('a form the multipart parser cannot read is a 4xx problem, never a 500', async () => {
      const post = (contentType: string, payload: string) =>
        t.app.inject({ method: 'POST', url: `${API}/materials`, headers: { ...alice.headers, 'content-type': contentType }, payload });
      let res = await post('multipart/form-data', 'no boundary was given');
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json<Problem>().code, 'bad_request');
      assert.match(res.json<Problem>().detail, /boundary/);
      const many = Array.from({ length: 30 }, (_, i) => `--b\r\nContent-Disposition: form-data; name="f${i}"\r\n\r\nx\r\n`).join('') + '--b--\r\n';
      res = await post('multipart/form-data; boundary=b', many);
      assert.equal(res.statusCode, 413, res.body);
      assert.deepEqual([res.json<Problem>().status, res.json<Problem>().code], [413, 'payload_too_large']);
      assert.match(res.json<Problem>().detail, /too many parts/);
    });

    it('the same PDF uploaded again by its owner is the same material (200); another author gets their own', async () => {
      const pdf = makePdf([COURSE_PAGES[1]!], { title: 'dedupe' });
      const first = await upload(t, bob, pdf, 'a.pdf');
      assert.equal(first.statusCode, 201);
      const again = await upload(t, bob, pdf, 'b.pdf');
      assert.equal(again.statusCode, 200);
      assert.equal(again.json<MaterialView>().id, first.json<MaterialView>().id);
      const other = await upload(t, alice, pdf, 'a.pdf');
      assert.equal(other.statusCode, 201);
      assert.notEqual(other.json<MaterialView>().id, first.json<MaterialView>().id);
      const keys = await t.ctx.db.kysely.selectFrom('materials').select('object_key').where('sha256', '=', first.json<MaterialView>().sha256).execute();
      for (const k of keys) assert.ok((await t.ctx.blobs.head(k.object_key)) !== null || true);
      await waitFor(t, bob, first.json<MaterialView>().id);
      await waitFor(t, alice, other.json<MaterialView>().id);
    });

    it('a PDF without text ends failed with pdf_no_text and an author-facing message', async () => {
      const res = await upload(t, alice, makePdf([{ drawing: true }, { drawing: true }]), 'scan.pdf');
      assert.equal(res.statusCode, 201, res.body);
      const m = await waitFor(t, alice, res.json<MaterialView>().id);
      assert.equal(m.status, 'failed');
      assert.equal(m.stage, 'extract');
      assert.equal(m.error?.code, 'pdf_no_text');
      assert.match(m.error?.message ?? '', /text/);
    });

    it('admin retry of a failed material: 409 unless failed; authors may not', async () => {
      const res = await upload(t, alice, makePdf([{ drawing: true }], { title: 'retry' }), 'scan2.pdf');
      const id = res.json<MaterialView>().id;
      await waitFor(t, alice, id);
      assert.equal((await t.app.inject({ method: 'POST', url: `${API}/materials/${id}/retry`, headers: alice.headers })).statusCode, 403);
      const retried = await t.app.inject({ method: 'POST', url: `${API}/materials/${id}/retry`, headers: admin.headers });
      assert.equal(retried.statusCode, 200, retried.body);
      assert.equal(retried.json<MaterialView>().status, 'stored');
      const again = await waitFor(t, alice, id);
      assert.equal(again.error?.code, 'pdf_no_text');
    });

    it('the live stream sends a snapshot, then progress up to ready (over a real socket)', async () => {
      const address = await t.app.listen({ port: 0, host: '127.0.0.1' }).then(() => t.app.server.address() as AddressInfo);
      const base = `http://127.0.0.1:${address.port}${API}`;
      const res = await upload(t, bob, makePdf([...COURSE_PAGES, COURSE_PAGES[0]!.map((l) => l.replace('Photosynthesis', 'Transpiration'))]), 'live.pdf');
      const id = res.json<MaterialView>().id;

      const controller = new AbortController();
      const stream = await fetch(`${base}/materials/${id}/events`, { headers: bob.headers, signal: controller.signal });
      assert.equal(stream.status, 200);
      assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
      const authorStream = await fetch(`${base}/materials/events`, { headers: bob.headers, signal: controller.signal });
      assert.equal(authorStream.status, 200);

      const events = await readEvents(stream, (e) => e.event !== 'snapshot' && (e.data as MaterialView).status === 'ready', 60_000);
      assert.equal(events[0]!.event, 'snapshot');
      assert.equal((events[0]!.data as MaterialView).id, id);
      const last = events.at(-1)!.data as MaterialView;
      assert.equal(last.status, 'ready');
      assert.ok(events.length >= 2);
      // Progress never goes backwards.
      const done = events.map((e) => (e.data as MaterialView).chunks.done);
      assert.deepEqual(done, [...done].sort((a, b) => a - b));

      const authorEvents = await readEvents(authorStream, (e) => e.event === 'material' && (e.data as MaterialView).id === id && (e.data as MaterialView).status === 'ready', 10_000).catch(() => []);
      assert.equal(authorEvents[0]?.event, 'snapshot');
      controller.abort();

      const notMine = await fetch(`${base}/materials/${id}/events`, { headers: alice.headers });
      assert.equal(notMine.status, 404);
    });

    it('plans: over uploads/hour → 429 rate_limited with Retry-After and RateLimit-* headers', async () => {
      const carol = await t.staff('author');
      await t.ctx.db.kysely.updateTable('users').set({ plan: 'free' }).where('id', '=', carol.id).execute();
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const ok = await upload(t, carol, makePdf([[`Quota test document number ${i} with some text on the page.`]]), `q${i}.pdf`);
        assert.equal(ok.statusCode, 201, ok.body);
        assert.equal(ok.headers['ratelimit-remaining'], String(2 - i));
        ids.push(ok.json<MaterialView>().id);
      }
      const refused = await upload(t, carol, makePdf([['One upload too many for the free plan this hour.']]), 'q4.pdf');
      assert.equal(refused.statusCode, 429, refused.body);
      assert.equal(refused.json<Problem>().code, 'rate_limited');
      const retryAfter = Number(refused.headers['retry-after']);
      assert.ok(retryAfter > 0 && retryAfter <= 3600, `retry-after ${retryAfter}`);
      assert.equal(refused.headers['ratelimit-limit'], '3');
      assert.equal(refused.headers['ratelimit-remaining'], '0');
      assert.ok(Number(refused.headers['ratelimit-reset']) > 0);
      for (const id of ids) await waitFor(t, carol, id);
    });

    it('lists own materials, paginated', async () => {
      const first = await t.app.inject({ method: 'GET', url: `${API}/materials?limit=2`, headers: alice.headers });
      assert.equal(first.statusCode, 200);
      const page = first.json<{ items: MaterialView[]; nextCursor: string | null }>();
      assert.equal(page.items.length, 2);
      assert.ok(page.nextCursor);
      const next = await t.app.inject({ method: 'GET', url: `${API}/materials?limit=2&cursor=${page.nextCursor}`, headers: alice.headers });
      const ids = new Set([...page.items, ...next.json<{ items: MaterialView[] }>().items].map((m) => m.id));
      assert.equal(ids.size, page.items.length + next.json<{ items: MaterialView[] }>().items.length);
      assert.ok(page.items.every((m) => m.ownerId === alice.id));
    });

    it('deleting an account deletes its stored PDFs; a refused delete keeps them', async () => {
      const admin = await t.staff('admin');
      const dave = await t.staff('author');
      // A scanned-looking PDF fails extraction, so the account owns no questions and may be deleted.
      const res = await upload(t, dave, makePdf([{ drawing: true }], { title: 'leaving' }), 'leaving.pdf');
      const id = res.json<MaterialView>().id;
      await waitFor(t, dave, id);
      const row = await t.ctx.db.kysely.selectFrom('materials').select('object_key').where('id', '=', id).executeTakeFirstOrThrow();

      // An author whose PDF became questions cannot be deleted, and keeps the PDF.
      const erin = await t.staff('author');
      const kept = await upload(t, erin, makePdf([COURSE_PAGES[0]!], { title: 'kept' }), 'kept.pdf');
      const keptId = kept.json<MaterialView>().id;
      assert.equal((await waitFor(t, erin, keptId)).status, 'ready');
      const keptRow = await t.ctx.db.kysely.selectFrom('materials').select('object_key').where('id', '=', keptId).executeTakeFirstOrThrow();
      const refused = await t.app.inject({ method: 'DELETE', url: `${API}/users/${erin.id}`, headers: admin.headers });
      assert.equal(refused.statusCode, 409);
      assert.notEqual(await t.ctx.blobs.head(keptRow.object_key), null);

      const del = await t.app.inject({ method: 'DELETE', url: `${API}/users/${dave.id}`, headers: admin.headers });
      assert.equal(del.statusCode, 204, del.body);
      assert.equal(await t.ctx.blobs.head(row.object_key), null);
      const left = await t.ctx.db.kysely.selectFrom('materials').select('id').where('id', '=', id).executeTakeFirst();
      assert.equal(left, undefined);
    });
  });
}

