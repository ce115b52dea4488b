/**
 * The pipeline against an OpenAI-compatible provider (the local fake in
 * src/testing/fake-openai.ts): rate limits with Retry-After, an outage that
 * opens the circuit breaker, malformed output, and the generation cache
 * shared by authors uploading the same document.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestApp, type Actor, type TestApp } from '../../testing/app.ts';
import { dbTargets } from '../../testing/db.ts';
import { startFakeOpenAI, type FakeOpenAI } from '../../testing/fake-openai.ts';
import { makePdf } from '../../testing/pdf-fixtures.ts';
import type { MaterialView } from './model.ts';
import { assertCitationsValid, COURSE_PAGES, upload, waitFor } from './testing.ts';

/** A document of its own per test, so the generation cache never answers for another test. */
const doc = (tag: string): Buffer => makePdf(COURSE_PAGES.map((lines) => [...lines, `This page belongs to the ${tag} document of the test run.`]), { title: tag });

for (const target of dbTargets()) {
  describe(`materials pipeline with an OpenAI-compatible provider (${target.name})`, () => {
    let t: TestApp;
    let fake: FakeOpenAI;
    let alice: Actor;
    let bob: Actor;

    before(async () => {
      fake = await startFakeOpenAI({ retryAfterMs: 500 });
      t = await createTestApp(target, { AI_BASE_URL: fake.url, AI_MODEL: 'fake-model', AI_API_KEY: 'test-key', AI_TIMEOUT_MS: '5000' });
      t.ctx.startWorkers();
      [alice, bob] = await Promise.all([t.staff('author'), t.staff('author')]);
    });
    after(async () => {
      await t.close();
      await fake.close();
    });

    const chats = () => fake.requests().filter((r) => r.path === '/v1/chat/completions');

    it('429 with Retry-After, then good: the material completes', async () => {
      fake.setMode(['rate_limited', 'good']);
      const before = chats().length;
      const res = await upload(t, alice, doc('rate-limited'), 'r.pdf');
      const m = await waitFor(t, alice, res.json<MaterialView>().id);
      assert.equal(m.status, 'ready', JSON.stringify(m.error));
      assert.ok(m.questions.created > 0);
      const mine = chats().slice(before);
      assert.equal(mine[0]?.status, 429);
      assert.ok(mine.some((r) => r.status === 200));
      await assertCitationsValid(t, alice, m.id);
    });

    it('a provider that is down opens the breaker; the material completes once it recovers', async () => {
      fake.setMode(['unavailable', 'unavailable', 'unavailable', 'unavailable', 'unavailable', 'good']);
      const before = chats().length;
      const res = await upload(t, alice, doc('outage'), 'o.pdf');
      const m = await waitFor(t, alice, res.json<MaterialView>().id, undefined, 90_000);
      assert.equal(m.status, 'ready', JSON.stringify(m.error));
      const mine = chats().slice(before);
      assert.ok(mine.filter((r) => r.status === 503).length >= 3);
      assert.equal(t.ctx.materials.breakerState(), 'closed');
      const scrape = await t.ctx.metrics.registry.getSingleMetricAsString('examday_ai_provider_calls_total');
      assert.match(scrape, /outcome="provider_unavailable"/);
    });

    it('malformed output is retried until good', async () => {
      fake.setMode(['malformed', 'malformed', 'good']);
      const res = await upload(t, alice, doc('malformed'), 'm.pdf');
      const m = await waitFor(t, alice, res.json<MaterialView>().id);
      assert.equal(m.status, 'ready', JSON.stringify(m.error));
      await assertCitationsValid(t, alice, m.id);
    });

    it('a non-retryable provider error fails the material with its code; an admin retry completes it', async () => {
      fake.setMode(['unauthorized', 'good']);
      const res = await upload(t, alice, doc('auth'), 'a.pdf');
      const failed = await waitFor(t, alice, res.json<MaterialView>().id);
      assert.equal(failed.status, 'failed');
      assert.equal(failed.error?.code, 'provider_auth');
      assert.equal(failed.stage, 'generate');
      const admin = await t.staff('admin');
      const retried = await t.app.inject({ method: 'POST', url: `/api/v1/materials/${failed.id}/retry`, headers: admin.headers });
      assert.equal(retried.statusCode, 200, retried.body);
      const m = await waitFor(t, alice, failed.id);
      assert.equal(m.status, 'ready', JSON.stringify(m.error));
    });

    it('the same PDF uploaded by another author reuses the generation cache: no new provider requests', async () => {
      fake.setMode('good');
      const pdf = doc('shared');
      const first = await upload(t, alice, pdf, 'shared.pdf');
      const a = await waitFor(t, alice, first.json<MaterialView>().id);
      assert.equal(a.status, 'ready');
      const before = chats().length;
      const second = await upload(t, bob, pdf, 'shared.pdf');
      assert.equal(second.statusCode, 201);
      const b = await waitFor(t, bob, second.json<MaterialView>().id);
      assert.equal(b.status, 'ready');
      assert.equal(chats().length, before);
      assert.equal(b.questions.created, a.questions.created);
      const questions = await assertCitationsValid(t, bob, b.id);
      assert.ok(questions.every((q) => q.source.materialId === b.id));
      // Usage is recorded per user and day.
      const usage = await t.ctx.db.kysely.selectFrom('ai_usage').selectAll().where('user_id', '=', alice.id).executeTakeFirstOrThrow();
      assert.ok(usage.requests > 0 && usage.questions > 0);
    });
  });
}
